"""Public reads of the incident: the incident itself, facts, the timeline, sources and
discrepancies, as the API returns them. A fact's citations and a discrepancy's versions come
through the relationships in api.incident.models, loaded with the rows they belong to."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, or_
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from api.errors import NotFound
from api.incident.models import (
    Citation,
    Discrepancy,
    DiscrepancyKind,
    Fact,
    FactStatus,
    Incident,
    Precision,
    Source,
)
from api.incident.schemas import (
    Child,
    CitationPublic,
    DiscrepancyPublic,
    DiscrepancyVersionPublic,
    FactPublic,
    IncidentCounts,
    IncidentDate,
    IncidentPublic,
    Occurred,
    Party,
    Place,
    SourcePublic,
    TimelineEntry,
)
from api.incident.support import fact_references, unknown_references
from api.pagination import PageParams, paginate
from api.text import escape_like

Row = TypeVar("Row")

# What a fact or a discrepancy is shown with, loaded in one query per relationship for a whole
# page. The relationships' own order_by gives each list its order.
FACT_PARTS: tuple[Any, ...] = (
    selectinload(Fact.citations),  # type: ignore[arg-type]
    selectinload(Fact.discrepancy_links),  # type: ignore[arg-type]
)
DISCREPANCY_PARTS: tuple[Any, ...] = (
    selectinload(Discrepancy.versions),  # type: ignore[arg-type]
    selectinload(Discrepancy.fact_links),  # type: ignore[arg-type]
)


def _found(row: Row | None, noun: str, key: str) -> Row:
    if row is None:
        raise NotFound(f"No {noun} with id '{key}'.")
    return row


def fact_row(session: Session, fact_id: str) -> Fact:
    return _found(session.get(Fact, fact_id), "fact", fact_id)


def source_row(session: Session, source_id: str) -> Source:
    return _found(session.get(Source, source_id), "source", source_id)


def discrepancy_row(session: Session, discrepancy_id: str) -> Discrepancy:
    return _found(session.get(Discrepancy, discrepancy_id), "discrepancy", discrepancy_id)


@dataclass(frozen=True)
class FactFilters:
    topic: str | None = None
    source: str | None = None
    status: FactStatus | None = None
    q: str | None = None
    occurred_from: dt.date | None = None
    occurred_to: dt.date | None = None


def get_incident(session: Session) -> IncidentPublic:
    incident = session.exec(select(Incident).limit(1)).first()
    if incident is None:
        raise NotFound("The incident has not been loaded yet; run `advocacy seed`.")
    details = incident.details
    counts = IncidentCounts(
        facts=session.exec(select(func.count()).select_from(Fact)).one(),
        sources=session.exec(select(func.count()).select_from(Source)).one(),
        discrepancies=session.exec(select(func.count()).select_from(Discrepancy)).one(),
    )
    return IncidentPublic(
        id=incident.id,
        title=incident.title,
        summary=incident.summary,
        where=Place(**details["where"]),
        when=IncidentDate(**details["when"]),
        child=Child(**details["child"]),
        people=[Party(**p) for p in details.get("people", [])],
        agencies=[Party(**a) for a in details.get("agencies", [])],
        counts=counts,
    )


# --- facts --------------------------------------------------------------------------------


def list_facts(
    session: Session, filters: FactFilters, page: PageParams
) -> tuple[list[FactPublic], str | None]:
    statement = select(Fact).options(*FACT_PARTS)
    if filters.topic is not None:
        statement = statement.where(Fact.topic == filters.topic)
    if filters.status is not None:
        statement = statement.where(Fact.status == filters.status.value)
    if filters.source is not None:
        cited = select(Citation.fact_id).where(Citation.source_id == filters.source)
        statement = statement.where(col(Fact.id).in_(cited))
    if filters.q:
        pattern = "%" + escape_like(filters.q.lower()) + "%"
        quoted = select(Citation.fact_id).where(
            func.lower(Citation.quote).like(pattern, escape="\\")
        )
        statement = statement.where(
            or_(
                func.lower(Fact.statement).like(pattern, escape="\\"),
                col(Fact.id).in_(quoted),
            )
        )
    # A fact dated "September 2019" overlaps any range touching September 2019.
    if filters.occurred_from is not None:
        statement = statement.where(col(Fact.occurred_end) >= filters.occurred_from)
    if filters.occurred_to is not None:
        statement = statement.where(col(Fact.occurred_date) <= filters.occurred_to)
    rows, cursor = paginate(
        session,
        statement,
        [Fact.position, Fact.id],
        page,
        key=lambda row: (row.position, row.id),
    )
    return [_fact_public(fact) for fact in rows], cursor


def get_fact(session: Session, fact_id: str) -> FactPublic:
    # populate_existing: after an edit in this unit of work, the lists as stored, in order.
    fact = session.get(Fact, fact_id, options=FACT_PARTS, populate_existing=True)
    return _fact_public(_found(fact, "fact", fact_id))


def timeline(session: Session, page: PageParams) -> tuple[list[TimelineEntry], str | None]:
    statement = select(Fact).where(col(Fact.occurred_date).is_not(None))
    rows, cursor = paginate(
        session,
        statement,
        # Latest day each could fall on first: "the following day" (year precision, 2019)
        # then sorts after "September 2019", not before it.
        [Fact.occurred_end, Fact.occurred_date, Fact.position, Fact.id],
        page,
        key=lambda row: (
            row.occurred_end,
            row.occurred_date,
            row.position,
            row.id,
        ),
    )
    entries = []
    for fact in rows:
        occurred = _occurred(fact)
        assert occurred is not None
        entries.append(
            TimelineEntry(
                fact_id=fact.id,
                occurred=occurred,
                topic=fact.topic,
                statement=fact.statement,
                status=FactStatus(fact.status),
            )
        )
    return entries, cursor


def unknown_fact_references(session: Session, body: str) -> list[str]:
    """The `[fact:ID]`s in a petition's text that name no fact."""
    referenced = fact_references(body)
    known = set(session.exec(select(Fact.id).where(col(Fact.id).in_(referenced))))
    return unknown_references(body, known)


def _occurred(fact: Fact) -> Occurred | None:
    if fact.occurred_date is None or fact.occurred_precision is None:
        return None
    return Occurred(
        date=fact.occurred_date,
        precision=Precision(fact.occurred_precision),
        inferred=bool(fact.occurred_inferred),
    )


def _fact_public(fact: Fact) -> FactPublic:
    return FactPublic(
        id=fact.id,
        topic=fact.topic,
        statement=fact.statement,
        occurred=_occurred(fact),
        status=FactStatus(fact.status),
        citations=[
            CitationPublic(source_id=c.source_id, quote=c.quote, start=c.start, end=c.end)
            for c in fact.citations
        ],
        discrepancy_ids=[link.discrepancy_id for link in fact.discrepancy_links],
    )


# --- sources ------------------------------------------------------------------------------


def list_sources(session: Session, page: PageParams) -> tuple[list[SourcePublic], str | None]:
    sources, cursor = paginate(
        session,
        select(Source),
        [Source.position, Source.id],
        page,
        key=lambda row: (row.position, row.id),
    )
    counts = _fact_counts(session, [s.id for s in sources])
    return [_source_public(s, counts.get(s.id, 0)) for s in sources], cursor


def get_source(session: Session, source_id: str) -> SourcePublic:
    return source_public(session, source_row(session, source_id))


def source_public(session: Session, source: Source) -> SourcePublic:
    return _source_public(source, _fact_counts(session, [source.id]).get(source.id, 0))


def _fact_counts(session: Session, source_ids: Iterable[str]) -> dict[str, int]:
    statement = (
        select(Citation.source_id, func.count(func.distinct(Citation.fact_id)))
        .where(col(Citation.source_id).in_(list(source_ids)))
        .group_by(Citation.source_id)
    )
    return {source_id: count for source_id, count in session.exec(statement).all()}


def _source_public(source: Source, fact_count: int) -> SourcePublic:
    return SourcePublic(
        id=source.id,
        title=source.title,
        label=source.label,
        publisher=source.publisher,
        published=source.published,
        kind=source.kind,
        language=source.language,
        content_sha256=source.content_sha256,
        fact_count=fact_count,
    )


# --- discrepancies ------------------------------------------------------------------------


def list_discrepancies(
    session: Session, page: PageParams, kind: DiscrepancyKind | None = None
) -> tuple[list[DiscrepancyPublic], str | None]:
    statement = select(Discrepancy).options(*DISCREPANCY_PARTS)
    if kind is not None:
        statement = statement.where(Discrepancy.kind == kind.value)
    rows, cursor = paginate(
        session,
        statement,
        [Discrepancy.position, Discrepancy.id],
        page,
        key=lambda row: (row.position, row.id),
    )
    return [_discrepancy_public(d) for d in rows], cursor


def get_discrepancy(session: Session, discrepancy_id: str) -> DiscrepancyPublic:
    # populate_existing: after an edit in this unit of work, the lists as stored, in order.
    discrepancy = session.get(
        Discrepancy, discrepancy_id, options=DISCREPANCY_PARTS, populate_existing=True
    )
    return _discrepancy_public(_found(discrepancy, "discrepancy", discrepancy_id))


def _discrepancy_public(discrepancy: Discrepancy) -> DiscrepancyPublic:
    return DiscrepancyPublic(
        id=discrepancy.id,
        kind=DiscrepancyKind(discrepancy.kind),
        about=discrepancy.about,
        fact_ids=[link.fact_id for link in discrepancy.fact_links],
        versions=[
            DiscrepancyVersionPublic(
                source_id=v.source_id, quote=v.quote, start=v.start, end=v.end, says=v.says
            )
            for v in discrepancy.versions
        ],
    )
