"""What the public incident API returns (the admin views extend some of these in
`api.incident.admin_schemas`)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField

from api.incident.models import DiscrepancyKind, FactStatus, Precision


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
