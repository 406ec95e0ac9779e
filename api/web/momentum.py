"""What the page shows of a petition's momentum: the next milestone, and where people signed
(a map of Florida's counties, shaded by confirmed signers, with a table of the same numbers).

The county outlines are data/florida-counties.json (public-domain Census geometry, see
data/README.md); the numbers are those of `/v1/petitions/{slug}/stats`, from the same cache.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from api.petitions.models import StatBucket

COUNTIES_FILE = Path(__file__).resolve().parent / "data" / "florida-counties.json"
SHADES = 5  # css classes county-shade-0 (no signer) to county-shade-4 (the most)


def next_milestone(verified: int, goal: int, milestones: Iterable[int] = ()) -> int:
    """The first step above the count: 10, 25, 50, 100, 250, 500, 1000, ... and the petition's
    own milestones and goal, so a new petition's bar moves from the first signature."""
    candidates = {m for m in milestones if m > 0} | ({goal} if goal > 0 else set())
    scale = 1
    while scale <= max(verified, 1) * 10:
        candidates |= {10 * scale, 25 * scale, 50 * scale}
        scale *= 10
    return min(m for m in candidates if m > verified)


def county_key(name: str) -> str:
    """ "Miami-Dade County", "Desoto County" and "DeSoto" all name one county."""
    key = name.casefold().strip()
    key = key.removesuffix(" county").strip()
    return key.replace("saint ", "st. ")


@dataclass(frozen=True)
class CountyShape:
    fips: str
    name: str
    d: str


@dataclass(frozen=True)
class CountyOutlines:
    width: int
    height: int
    source: str
    counties: tuple[CountyShape, ...]


@lru_cache(maxsize=1)
def florida_counties() -> CountyOutlines:
    data = json.loads(COUNTIES_FILE.read_text(encoding="utf-8"))
    return CountyOutlines(
        width=data["width"],
        height=data["height"],
        source=data["source"],
        counties=tuple(CountyShape(c["fips"], c["name"], c["d"]) for c in data["counties"]),
    )


@dataclass(frozen=True)
class MapCounty(CountyShape):
    """A county's outline on the map, with its confirmed signers and the shade they give it."""

    count: int
    shade: int


@dataclass(frozen=True)
class CountyRow:
    name: str
    count: int


@dataclass(frozen=True)
class CountyMap:
    width: int
    height: int
    counties: list[MapCounty]
    rows: list[CountyRow]  # the table: every county with signers, most first
    total: int


def _shade(count: int, most: int) -> int:
    if count <= 0 or most <= 0:
        return 0
    return min(SHADES - 1, 1 + (count * (SHADES - 1) - 1) // most)


def county_map(buckets: Sequence[StatBucket]) -> CountyMap:
    """The map and table for `/stats`' by_florida_county (names folded as county_key does)."""
    outlines = florida_counties()
    names = {county_key(shape.name): shape.name for shape in outlines.counties}
    counts: dict[str, int] = {}
    for bucket in buckets:
        name = names.get(county_key(bucket.key), bucket.key)
        counts[name] = counts.get(name, 0) + bucket.count
    most = max(counts.values(), default=0)
    return CountyMap(
        width=outlines.width,
        height=outlines.height,
        counties=[
            MapCounty(
                s.fips, s.name, s.d, counts.get(s.name, 0), _shade(counts.get(s.name, 0), most)
            )
            for s in outlines.counties
        ],
        rows=[
            CountyRow(name, n) for name, n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))
        ],
        total=sum(counts.values()),
    )
