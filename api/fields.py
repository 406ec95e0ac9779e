"""Field types and limits shared across domains: one definition each."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import Path
from pydantic import BeforeValidator
from pydantic import Field as PydanticField

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date_only(value: Any) -> Any:
    # pydantic would otherwise read "0" as a Unix timestamp (1970-01-01).
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date_only)]

# Slugs name petitions, facts, sources and discrepancies in URLs: lower-case words and hyphens.
SLUG_MAX = 80
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[
    str, PydanticField(min_length=1, max_length=SLUG_MAX, pattern=SLUG_PATTERN, examples=["x-y"])
]

PetitionSlugPath = Annotated[
    str,
    Path(
        max_length=SLUG_MAX,
        description="The petition's slug.",
        examples=["florida-minimum-arrest-age-12"],
    ),
]
