"""Incident tables and their public schemas.

Table classes (`table=True`) are never request bodies; the `*Public` classes are what the API
returns.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

import api.db  # noqa: F401  (sets the constraint naming convention before tables exist)
from api.fields import SLUG_MAX, IsoDate, Slug


class Precision(StrEnum):
    day = "day"
    month = "month"
    year = "year"


class FactStatus(StrEnum):
    corroborated = "corroborated"
    single_source = "single_source"
    disputed = "disputed"


class DiscrepancyKind(StrEnum):
    """`substantive`: the sources state different facts (numbers, who did what, where, when),
    so the facts it concerns are `disputed`. `wording`: the same fact in different words, or
    accounts that differ without contradicting each other; it is shown, and disputes nothing."""

    substantive = "substantive"
    wording = "wording"


DISCREPANCY_KIND_MAX = 12
LABEL_MAX = 300


# --- tables -------------------------------------------------------------------------------


class Source(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=SLUG_MAX)
    position: int = Field(index=True)
    title: str | None = Field(default=None, max_length=300)
    # What readers see it called: its headline, or its opening words (see support.py).
    label: str | None = Field(default=None, max_length=LABEL_MAX)
    publisher: str | None = Field(default=None, max_length=200)
    published: dt.date | None = None
    kind: str = Field(max_length=40)
    language: str = Field(max_length=16)
    content_sha256: str = Field(max_length=64, unique=True)
    # The text itself, when staff supplied it through the admin API: quotes citing this
    # source are then checked verbatim against it when they are saved.
    text: str | None = Field(default=None, sa_type=Text)


class Fact(SQLModel, table=True):
    __table_args__ = (Index("ix_fact_position_id", "position", "id"),)

    id: str = Field(primary_key=True, max_length=SLUG_MAX)
    position: int
    topic: str = Field(index=True, max_length=40)
    statement: str = Field(max_length=1000)
    occurred_date: dt.date | None = Field(default=None, index=True)
    # Last day the occurrence could fall on, given its precision; lets date-range filters
    # match "September 2019" for any day in September.
    occurred_end: dt.date | None = None
    occurred_precision: str | None = Field(default=None, max_length=8)
    occurred_inferred: bool | None = None
    status: str = Field(index=True, max_length=20)


class Citation(SQLModel, table=True):
    fact_id: str = Field(
        foreign_key="fact.id", primary_key=True, ondelete="CASCADE", max_length=SLUG_MAX
    )
    position: int = Field(primary_key=True)
    source_id: str = Field(foreign_key="source.id", index=True, max_length=SLUG_MAX)
    quote: str = Field(max_length=2000)
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class Discrepancy(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=SLUG_MAX)
    position: int = Field(index=True)
    about: str = Field(max_length=500)
    kind: str = Field(
        default=DiscrepancyKind.substantive.value, index=True, max_length=DISCREPANCY_KIND_MAX
    )


class DiscrepancyVersion(SQLModel, table=True):
    __tablename__ = "discrepancy_version"

    discrepancy_id: str = Field(
        foreign_key="discrepancy.id", primary_key=True, ondelete="CASCADE", max_length=SLUG_MAX
    )
    position: int = Field(primary_key=True)
    source_id: str = Field(foreign_key="source.id", index=True, max_length=SLUG_MAX)
    quote: str = Field(max_length=2000)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    says: str = Field(max_length=500)


class DiscrepancyFact(SQLModel, table=True):
    __tablename__ = "discrepancy_fact"

    discrepancy_id: str = Field(
        foreign_key="discrepancy.id", primary_key=True, ondelete="CASCADE", max_length=SLUG_MAX
    )
    fact_id: str = Field(
        foreign_key="fact.id", primary_key=True, ondelete="CASCADE", max_length=SLUG_MAX
    )


class Incident(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=SLUG_MAX)
    title: str = Field(max_length=300)
    summary: str = Field(max_length=4000)
    # where / when / child / people / agencies: one document, edited as a whole.
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# --- public schemas -----------------------------------------------------------------------


class Occurred(BaseModel):
    date: dt.date = PydanticField(
        description="The date, to its precision: for `month` the day is 01, for `year` the "
        "month and day are 01-01."
    )
    precision: Precision = PydanticField(description="How much of `date` the sources support.")
    inferred: bool = PydanticField(
        description="True when no source states the date outright and it was worked out from "
        "them (e.g. an article from February 2020 saying 'last September')."
    )


class CitationPublic(BaseModel):
    source_id: str = PydanticField(description="The `id` of the source quoted.")
    quote: str = PydanticField(description="Verbatim text of the source.")
    start: int = PydanticField(description="Offset (Unicode code points) where the quote starts.")
    end: int = PydanticField(description="Offset just past the quote's end: text[start:end].")


class FactPublic(BaseModel):
    # From the seeded fact base: the statement and quotes as stored there.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "kaia-age-six",
                    "topic": "people",
                    "statement": "Kaia Rolle was six years old at the time of her arrest.",
                    "occurred": None,
                    "status": "corroborated",
                    "citations": [
                        {
                            "source_id": "article-cable-ties-tweet",
                            "quote": "School employees tell him that Kaia is six.",
                            "start": 1936,
                            "end": 1979,
                        },
                        {
                            "source_id": "article-please-let-me-go",
                            "quote": "The officer with Kaia then tells the 6-year-old",
                            "start": 980,
                            "end": 1027,
                        },
                        {
                            "source_id": "article-zip-ties-grandmother",
                            "quote": "Police Officer Dennis Turner leads six-year-old Kaia Rolle "
                            "away after her arrest",
                            "start": 484,
                            "end": 564,
                        },
                    ],
                    "discrepancy_ids": [],
                }
            ]
        }
    )

    id: str = PydanticField(description="Stable slug.", examples=["officer-fired"])
    topic: str = PydanticField(examples=["firing"])
    statement: str = PydanticField(description="The fact, neutrally, in the campaign's words.")
    occurred: Occurred | None = PydanticField(description="When it happened, if sources say.")
    status: FactStatus = PydanticField(
        description="`corroborated`: two or more sources each state all of it; "
        "`single_source`: one does; `disputed`: a `substantive` discrepancy concerns it (see "
        "`discrepancy_ids`). A `wording` discrepancy disputes nothing."
    )
    citations: list[CitationPublic] = PydanticField(description="Every source that states it.")
    discrepancy_ids: list[str] = PydanticField(
        description="Discrepancies between sources (substantive or wording) that concern this fact."
    )


class SourcePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "article-please-let-me-go",
                    "title": "Video Shows Florida Police Officer Arrest Crying 6-Year-Old Girl "
                    "For Having School Tantrum: 'Please Let Me Go'",
                    "publisher": None,
                    "published": None,
                    "kind": "news_article",
                    "language": "en",
                    "content_sha256": "e384c0994d158def26d5b8d698ac93b1"
                    "9e1c81de07f02d5392afe760f729e27c",
                    "fact_count": 50,
                }
            ]
        }
    )

    id: str = PydanticField(examples=["article-herald"])
    title: str | None = PydanticField(description="Headline, or null where the text has none.")
    label: str | None = PydanticField(
        description="What to call the source: its headline, or its opening words where it has "
        "none. Null only when neither is known."
    )
    publisher: str | None = PydanticField(description="Null unless the text names it.")
    published: dt.date | None = PydanticField(description="Null unless the text states it.")
    kind: str = PydanticField(examples=["news_article"])
    language: str = PydanticField(examples=["en"])
    content_sha256: str = PydanticField(
        description="SHA-256 of the source text as UTF-8 bytes; quotes index into that text."
    )
    fact_count: int = PydanticField(description="How many facts cite this source.")


class DiscrepancyVersionPublic(CitationPublic):
    says: str = PydanticField(description="What this source's version says, in our words.")


class DiscrepancyPublic(BaseModel):
    id: str
    kind: DiscrepancyKind = PydanticField(
        description="`substantive`: the sources state different facts, and the facts listed "
        "are `disputed`; `wording`: the same fact in different words (or accounts that differ "
        "without contradicting each other), disputing nothing."
    )
    about: str = PydanticField(description="What the sources disagree about.")
    fact_ids: list[str] = PydanticField(description="Facts this disagreement concerns.")
    versions: list[DiscrepancyVersionPublic] = PydanticField(
        description="Each source's version, with its quote. No side is picked."
    )


class TimelineEntry(BaseModel):
    fact_id: str
    occurred: Occurred
    topic: str
    statement: str
    status: FactStatus


class Place(BaseModel):
    school: str
    city: str
    state: str
    fact_ids: list[str] = PydanticField(description="Facts that support this.")


class IncidentDate(Occurred):
    fact_ids: list[str] = PydanticField(description="Facts that support this.")


class Child(BaseModel):
    name: str
    age: int
    fact_ids: list[str]


class Party(BaseModel):
    id: str
    name: str
    role: str
    fact_ids: list[str]


class IncidentCounts(BaseModel):
    facts: int
    sources: int
    discrepancies: int


class IncidentLinks(BaseModel):
    facts: str = "/v1/facts"
    sources: str = "/v1/sources"
    timeline: str = "/v1/timeline"
    discrepancies: str = "/v1/discrepancies"


class IncidentPublic(BaseModel):
    id: str
    title: str
    summary: str = PydanticField(description="A short account, stating only what sources say.")
    where: Place
    when: IncidentDate
    child: Child
    people: list[Party]
    agencies: list[Party]
    counts: IncidentCounts
    links: IncidentLinks = PydanticField(default_factory=IncidentLinks)


class CslDate(BaseModel):
    date_parts: list[list[int]] = PydanticField(alias="date-parts")


class CslItem(BaseModel):
    """A CSL-JSON item (Citation Style Language), for reference managers."""

    model_config = {"populate_by_name": True}

    id: str
    type: str = "article-newspaper"
    title: str | None = None
    publisher: str | None = None
    issued: CslDate | None = None
    language: str | None = None


# --- admin request bodies and views ---------------------------------------------------------

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
