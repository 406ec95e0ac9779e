"""Incident tables and their enums.

Table classes (`table=True`) are never request bodies: the API's models are in
`api.incident.schemas` (what it returns) and `api.incident.admin_schemas` (what staff send).

The relationships below add no column: they let reads load a fact's citations or a
discrepancy's versions with `selectinload`, and let the unit of work insert parents before the
rows that point at them. No `from __future__ import annotations` here: SQLModel reads the
relationship annotations (`list["Citation"]`) at class creation.
"""

import calendar
import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, Relationship, SQLModel

import api.db  # noqa: F401  (sets the constraint naming convention before tables exist)
from api.fields import SLUG_MAX


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


def period_end(date: dt.date, precision: Precision) -> dt.date:
    """The last day a date known to `precision` could fall on."""
    if precision is Precision.year:
        return dt.date(date.year, 12, 31)
    if precision is Precision.month:
        return dt.date(date.year, date.month, calendar.monthrange(date.year, date.month)[1])
    return date


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

    # A quoted source is never deleted (api.incident.sources refuses), so deleting one has no
    # quotes to touch: "all" keeps the ORM from loading them to null their source_id.
    citations: list["Citation"] = Relationship(
        back_populates="source",
        sa_relationship_kwargs={
            "order_by": "(Citation.fact_id, Citation.position)",
            "passive_deletes": "all",
        },
    )
    discrepancy_versions: list["DiscrepancyVersion"] = Relationship(
        back_populates="source",
        sa_relationship_kwargs={
            "order_by": "(DiscrepancyVersion.discrepancy_id, DiscrepancyVersion.position)",
            "passive_deletes": "all",
        },
    )


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

    # A fact's citations are its own: replaced or deleted with it.
    citations: list["Citation"] = Relationship(
        back_populates="fact",
        sa_relationship_kwargs={"order_by": "Citation.position", "cascade": "all, delete-orphan"},
    )
    # The links belong to their discrepancy (which replaces them); deleting the fact deletes
    # its links too.
    discrepancy_links: list["DiscrepancyFact"] = Relationship(
        back_populates="fact",
        sa_relationship_kwargs={
            "order_by": "DiscrepancyFact.discrepancy_id",
            "cascade": "save-update, merge, delete",
        },
    )

    def set_occurred(self, date: dt.date, precision: Precision, inferred: bool) -> None:
        """Date the fact; `occurred_end` follows from the precision."""
        self.occurred_date = date
        self.occurred_end = period_end(date, precision)
        self.occurred_precision = precision.value
        self.occurred_inferred = inferred

    def clear_occurred(self) -> None:
        self.occurred_date = self.occurred_end = None
        self.occurred_precision = None
        self.occurred_inferred = None


class Citation(SQLModel, table=True):
    fact_id: str = Field(
        foreign_key="fact.id", primary_key=True, ondelete="CASCADE", max_length=SLUG_MAX
    )
    position: int = Field(primary_key=True)
    source_id: str = Field(foreign_key="source.id", index=True, max_length=SLUG_MAX)
    quote: str = Field(max_length=2000)
    start: int = Field(ge=0)
    end: int = Field(ge=0)

    fact: "Fact" = Relationship(back_populates="citations")
    source: "Source" = Relationship(back_populates="citations")


class Discrepancy(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=SLUG_MAX)
    position: int = Field(index=True)
    about: str = Field(max_length=500)
    kind: str = Field(
        default=DiscrepancyKind.substantive.value, index=True, max_length=DISCREPANCY_KIND_MAX
    )

    versions: list["DiscrepancyVersion"] = Relationship(
        back_populates="discrepancy",
        sa_relationship_kwargs={
            "order_by": "DiscrepancyVersion.position",
            "cascade": "all, delete-orphan",
        },
    )
    fact_links: list["DiscrepancyFact"] = Relationship(
        back_populates="discrepancy",
        sa_relationship_kwargs={
            "order_by": "DiscrepancyFact.fact_id",
            "cascade": "all, delete-orphan",
        },
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

    discrepancy: "Discrepancy" = Relationship(back_populates="versions")
    source: "Source" = Relationship(back_populates="discrepancy_versions")


class DiscrepancyFact(SQLModel, table=True):
    __tablename__ = "discrepancy_fact"

    discrepancy_id: str = Field(
        foreign_key="discrepancy.id", primary_key=True, ondelete="CASCADE", max_length=SLUG_MAX
    )
    fact_id: str = Field(
        foreign_key="fact.id", primary_key=True, ondelete="CASCADE", max_length=SLUG_MAX
    )

    discrepancy: "Discrepancy" = Relationship(back_populates="fact_links")
    fact: "Fact" = Relationship(back_populates="discrepancy_links")


class Incident(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=SLUG_MAX)
    title: str = Field(max_length=300)
    summary: str = Field(max_length=4000)
    # where / when / child / people / agencies: one document, edited as a whole.
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
