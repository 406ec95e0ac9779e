"""What staff send to the admin API to edit the fact base, and the admin views of it.

Every body forbids unknown fields; PATCH bodies leave out what they do not change.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool
from pydantic import Field as PydanticField

from api.fields import IsoDate, Slug
from api.incident.models import LABEL_MAX, DiscrepancyKind, Precision
from api.incident.schemas import CitationPublic, SourcePublic

# Admin limits are sized so that any valid request body, even at 4 UTF-8 bytes a character,
# fits within the default request body cap (MAX_BODY_BYTES, 64 KiB).
SOURCE_TEXT_MAX = 12_000
QUOTE_MAX = 500
CITATIONS_MAX = 10
OFFSET_MAX = 10_000_000


def omittable(**constraints: Any) -> Any:
    """A PATCH field that may be left out but never sent as null (its schema says so)."""
    return PydanticField(default=None, **constraints)


class CitationIn(BaseModel):
    """A quote from a source, at its offsets (Unicode code points) into the source text."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "source_id": "article-herald",
                    "quote": "School employees tell him that Kaia is six.",
                    "start": 1936,
                    "end": 1979,
                }
            ]
        },
    )

    source_id: Slug = PydanticField(description="The `id` of the source quoted.")
    quote: str = PydanticField(
        min_length=1, max_length=QUOTE_MAX, description="Verbatim text: `text[start:end]`."
    )
    start: int = PydanticField(ge=0, le=OFFSET_MAX, description="Where the quote starts.")
    end: int = PydanticField(ge=0, le=OFFSET_MAX, description="Just past the quote's end.")


class CitationUpdate(BaseModel):
    """Fields to change; the result is checked as a whole."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"start": 1936}]})

    source_id: Slug = omittable()
    quote: str = omittable(min_length=1, max_length=QUOTE_MAX)
    start: int = omittable(ge=0, le=OFFSET_MAX)
    end: int = omittable(ge=0, le=OFFSET_MAX)


class CitationAdmin(CitationPublic):
    fact_id: str
    position: int = PydanticField(description="Identifies the citation within its fact.")


class OccurredIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: IsoDate = PydanticField(
        description="For `month` precision the day must be 01; for `year`, month and day 01-01."
    )
    precision: Precision
    inferred: StrictBool = False


class FactCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "kaia-age-six",
                    "topic": "people",
                    "statement": "Kaia Rolle was six years old at the time of her arrest.",
                    "occurred": None,
                    "citations": [
                        {
                            "source_id": "article-herald",
                            "quote": "School employees tell him that Kaia is six.",
                            "start": 1936,
                            "end": 1979,
                        }
                    ],
                }
            ]
        },
    )

    id: Slug
    topic: str = PydanticField(min_length=1, max_length=40)
    statement: str = PydanticField(min_length=1, max_length=1000)
    occurred: OccurredIn | None = None
    citations: list[CitationIn] = PydanticField(
        min_length=1,
        max_length=CITATIONS_MAX,
        description="At least one: every fact needs a source.",
    )
    position: int | None = PydanticField(
        default=None, ge=0, le=1_000_000, description="Narrative order; default: last."
    )


class FactUpdate(BaseModel):
    """Fields to change. `citations`, when given, replaces the whole list; `occurred: null`
    removes the date."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"statement": "Kaia Rolle was six years old."}]},
    )

    topic: str = omittable(min_length=1, max_length=40)
    statement: str = omittable(min_length=1, max_length=1000)
    occurred: OccurredIn | None = None
    citations: list[CitationIn] = omittable(min_length=1, max_length=CITATIONS_MAX)
    position: int = omittable(ge=0, le=1_000_000)


class SourceCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "article-herald",
                    "title": "Six-year-old arrested at school",
                    "publisher": None,
                    "published": "2020-02-24",
                    "kind": "news_article",
                    "language": "en",
                    "text": "Full text of the article, exactly as quoted...",
                }
            ]
        },
    )

    id: Slug
    title: str | None = PydanticField(default=None, max_length=300)
    label: str | None = PydanticField(
        default=None,
        min_length=1,
        max_length=LABEL_MAX,
        description="What readers see it called. Left out: the title, else the opening words "
        "of `text`. With `text`, it must be the title or the text's opening words.",
    )
    publisher: str | None = PydanticField(default=None, max_length=200)
    published: IsoDate | None = None
    kind: str = PydanticField(min_length=1, max_length=40, examples=["news_article"])
    language: str = PydanticField(min_length=2, max_length=16, examples=["en"])
    content_sha256: str | None = PydanticField(
        default=None,
        max_length=64,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the text as UTF-8 bytes. Computed when `text` is given (and "
        "then, if also sent, must match); required when it is not.",
    )
    text: str | None = PydanticField(
        default=None,
        min_length=1,
        max_length=SOURCE_TEXT_MAX,
        description="The source text (up to 12,000 characters). When given, every quote citing "
        "the source is checked verbatim against it whenever it is saved.",
    )


class SourceUpdate(BaseModel):
    """Fields to change. A new `text` must still hold every quote that cites the source."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"publisher": "Orlando Herald"}]}
    )

    title: str | None = PydanticField(default=None, max_length=300)
    label: str | None = PydanticField(default=None, min_length=1, max_length=LABEL_MAX)
    publisher: str | None = PydanticField(default=None, max_length=200)
    published: IsoDate | None = None
    kind: str = omittable(min_length=1, max_length=40)
    language: str = omittable(min_length=2, max_length=16)
    content_sha256: str = omittable(max_length=64, pattern=r"^[0-9a-f]{64}$")
    text: str = omittable(min_length=1, max_length=SOURCE_TEXT_MAX)


class SourceAdmin(SourcePublic):
    has_text: bool = PydanticField(description="Whether the source text is stored.")
    text: str | None = PydanticField(description="The stored text, if any.")


class DiscrepancyVersionIn(CitationIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "source_id": "article-herald",
                    "quote": "after she allegedly kicked one of her teachers",
                    "start": 333,
                    "end": 379,
                    "says": "She allegedly kicked one teacher.",
                }
            ]
        },
    )

    says: str = PydanticField(min_length=1, max_length=300)


class DiscrepancyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "staff-struck-how-many",
                    "kind": "substantive",
                    "about": "How many staff members were struck",
                    "fact_ids": ["arrest-after-allegedly-striking-staff"],
                    "versions": [
                        {
                            "source_id": "article-herald",
                            "quote": "after she allegedly kicked one of her teachers",
                            "start": 333,
                            "end": 379,
                            "says": "One teacher.",
                        },
                        {
                            "source_id": "article-tribune",
                            "quote": "hitting three members of staff",
                            "start": 265,
                            "end": 295,
                            "says": "Three members of staff.",
                        },
                    ],
                }
            ]
        },
    )

    id: Slug
    kind: DiscrepancyKind = PydanticField(
        description="`substantive` disputes the facts listed; `wording` disputes nothing."
    )
    about: str = PydanticField(min_length=1, max_length=500)
    fact_ids: list[Slug] = PydanticField(default_factory=list, max_length=20)
    versions: list[DiscrepancyVersionIn] = PydanticField(
        min_length=2, max_length=10, description="Each source's version: at least two."
    )
    position: int | None = PydanticField(default=None, ge=0, le=1_000_000)


class DiscrepancyUpdate(BaseModel):
    """Fields to change; `fact_ids` and `versions`, when given, replace the whole list."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"about": "How many staff were struck"}]}
    )

    kind: DiscrepancyKind = omittable()
    about: str = omittable(min_length=1, max_length=500)
    fact_ids: list[Slug] = omittable(max_length=20)
    versions: list[DiscrepancyVersionIn] = omittable(min_length=2, max_length=10)
    position: int = omittable(ge=0, le=1_000_000)
