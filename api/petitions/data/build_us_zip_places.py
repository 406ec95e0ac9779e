"""Build us-zip-places.tsv.gz: ZIP code -> (state, county), from the `zipcodes` package.

    .venv/bin/python api/petitions/data/build_us_zip_places.py

`zipcodes` (a development dependency, pinned in pyproject.toml) ships the US Postal Service
ZIP list with many fields per code; signing needs two. Loading its whole dataset cost each
server process ~0.8 s and ~40 MiB at start-up; this table loads in a few milliseconds.
tests/petitions/test_zip_places.py checks the committed table against the pinned package.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

TABLE = Path(__file__).with_name("us-zip-places.tsv.gz")


def rows() -> list[str]:
    """One line per active ZIP code: `zip<TAB>state<TAB>county` (county may be empty)."""
    import zipcodes

    lines = []
    for entry in zipcodes.list_all():
        if not entry.get("active", True):
            continue
        county = (entry.get("county") or "").replace("\t", " ")
        lines.append(f"{entry['zip_code']}\t{entry['state']}\t{county}\n")
    return sorted(lines)


def table_bytes(lines: list[str]) -> bytes:
    # mtime=0: the same data gives the same bytes, so a rebuild shows no change in git.
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as out:
        out.write("".join(lines).encode("utf-8"))
    return buffer.getvalue()


if __name__ == "__main__":
    TABLE.write_bytes(table_bytes(rows()))
    print(f"wrote {TABLE}")
