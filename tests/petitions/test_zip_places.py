"""The committed ZIP table is exactly what its generator makes from the pinned `zipcodes`
package, and lookups through it agree with the package's own."""

from __future__ import annotations

import gzip

import zipcodes

from api.petitions.data.build_us_zip_places import rows
from api.petitions.validation import ZIP_PLACES, zip_place


def test_committed_table_is_the_generated_one() -> None:
    committed = gzip.decompress(ZIP_PLACES.read_bytes()).decode("utf-8")
    assert committed == "".join(rows()), (
        "api/petitions/data/us-zip-places.tsv.gz is stale: "
        "run api/petitions/data/build_us_zip_places.py"
    )


def test_lookups_agree_with_the_package() -> None:
    for zip5 in ("32801", "33101", "32301", "10001", "94103", "00501", "00000", "99999"):
        active = [e for e in zipcodes.matching(zip5) if e.get("active", True)]
        expected = (active[0]["state"], active[0].get("county") or None) if active else None
        assert zip_place(zip5) == expected, zip5
