"""Incident rules and queries. Services flush, never commit."""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from api.errors import NotFound
from api.incident.models import (
    Child,
    Citation,
    CitationPublic,
    CslDate,
    CslItem,
    Discrepancy,
    DiscrepancyFact,
    DiscrepancyPublic,
    DiscrepancyVersion,
    DiscrepancyVersionPublic,
    Fact,
    FactPublic,
    FactStatus,
    Incident,
    IncidentCounts,
    IncidentDate,
    IncidentPublic,
    Occurred,
    Party,
    Place,
    Precision,
    Source,
    SourcePublic,
    TimelineEntry,
)
from api.pagination import PageParams, paginate

# --- reads --------------------------------------------------------------------------------


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


def list_facts(
    session: Session, filters: FactFilters, page: PageParams
) -> tuple[list[FactPublic], str | None]:
    statement = select(Fact)
    if filters.topic is not None:
        statement = statement.where(Fact.topic == filters.topic)
    if filters.status is not None:
        statement = statement.where(Fact.status == filters.status.value)
    if filters.source is not None:
        cited = select(Citation.fact_id).where(Citation.source_id == filters.source)
        statement = statement.where(col(Fact.id).in_(cited))
    if filters.q:
        pattern = "%" + _escape_like(filters.q.lower()) + "%"
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
    return _hydrate_facts(session, rows), cursor


def get_fact(session: Session, fact_id: str) -> FactPublic:
    fact = session.get(Fact, fact_id)
    if fact is None:
        raise NotFound(f"No fact with id '{fact_id}'.")
    return _hydrate_facts(session, [fact])[0]


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


def list_sources(session: Session, page: PageParams) -> tuple[list[SourcePublic], str | None]:
    rows, cursor = paginate(
        session,
        select(Source),
        [Source.position, Source.id],
        page,
        key=lambda row: (row.position, row.id),
    )
    sources = rows
    counts = _fact_counts(session, [s.id for s in sources])
    return [_source_public(s, counts.get(s.id, 0)) for s in sources], cursor


def get_source(session: Session, source_id: str) -> SourcePublic:
    source = session.get(Source, source_id)
    if source is None:
        raise NotFound(f"No source with id '{source_id}'.")
    return _source_public(source, _fact_counts(session, [source_id]).get(source_id, 0))


def source_as_csl(source: SourcePublic) -> CslItem:
    issued = None
    if source.published is not None:
        published = source.published
        issued = CslDate(**{"date-parts": [[published.year, published.month, published.day]]})
    return CslItem(
        id=source.id,
        title=source.title,
        publisher=source.publisher,
        issued=issued,
        language=source.language,
    )


def list_discrepancies(
    session: Session, page: PageParams
) -> tuple[list[DiscrepancyPublic], str | None]:
    rows, cursor = paginate(
        session,
        select(Discrepancy),
        [Discrepancy.position, Discrepancy.id],
        page,
        key=lambda row: (row.position, row.id),
    )
    discrepancies = rows
    ids = [d.id for d in discrepancies]
    versions: dict[str, list[DiscrepancyVersionPublic]] = defaultdict(list)
    for version in session.exec(
        select(DiscrepancyVersion)
        .where(col(DiscrepancyVersion.discrepancy_id).in_(ids))
        .order_by(col(DiscrepancyVersion.discrepancy_id), col(DiscrepancyVersion.position))
    ):
        versions[version.discrepancy_id].append(
            DiscrepancyVersionPublic(
                source_id=version.source_id,
                quote=version.quote,
                start=version.start,
                end=version.end,
                says=version.says,
            )
        )
    fact_ids: dict[str, list[str]] = defaultdict(list)
    for link in session.exec(
        select(DiscrepancyFact)
        .where(col(DiscrepancyFact.discrepancy_id).in_(ids))
        .order_by(DiscrepancyFact.discrepancy_id, DiscrepancyFact.fact_id)
    ):
        fact_ids[link.discrepancy_id].append(link.fact_id)
    return [
        DiscrepancyPublic(id=d.id, about=d.about, fact_ids=fact_ids[d.id], versions=versions[d.id])
        for d in discrepancies
    ], cursor


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _occurred(fact: Fact) -> Occurred | None:
    if fact.occurred_date is None or fact.occurred_precision is None:
        return None
    return Occurred(
        date=fact.occurred_date,
        precision=Precision(fact.occurred_precision),
        inferred=bool(fact.occurred_inferred),
    )


def _hydrate_facts(session: Session, facts: Sequence[Fact]) -> list[FactPublic]:
    """Load citations and discrepancy links for a page of facts in two queries."""
    ids = [f.id for f in facts]
    citations: dict[str, list[CitationPublic]] = defaultdict(list)
    for citation in session.exec(
        select(Citation)
        .where(col(Citation.fact_id).in_(ids))
        .order_by(col(Citation.fact_id), col(Citation.position))
    ):
        citations[citation.fact_id].append(
            CitationPublic(
                source_id=citation.source_id,
                quote=citation.quote,
                start=citation.start,
                end=citation.end,
            )
        )
    disputes: dict[str, list[str]] = defaultdict(list)
    for link in session.exec(
        select(DiscrepancyFact)
        .where(col(DiscrepancyFact.fact_id).in_(ids))
        .order_by(DiscrepancyFact.fact_id, DiscrepancyFact.discrepancy_id)
    ):
        disputes[link.fact_id].append(link.discrepancy_id)
    return [
        FactPublic(
            id=fact.id,
            topic=fact.topic,
            statement=fact.statement,
            occurred=_occurred(fact),
            status=FactStatus(fact.status),
            citations=citations[fact.id],
            discrepancy_ids=disputes[fact.id],
        )
        for fact in facts
    ]


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
        publisher=source.publisher,
        published=source.published,
        kind=source.kind,
        language=source.language,
        content_sha256=source.content_sha256,
        fact_count=fact_count,
    )


# --- writes -------------------------------------------------------------------------------


def period_end(date: dt.date, precision: Precision) -> dt.date:
    if precision is Precision.year:
        return dt.date(date.year, 12, 31)
    if precision is Precision.month:
        return dt.date(date.year, date.month, calendar.monthrange(date.year, date.month)[1])
    return date


def derive_status(distinct_sources: int, disputed: bool) -> FactStatus:
    if disputed:
        return FactStatus.disputed
    return FactStatus.corroborated if distinct_sources >= 2 else FactStatus.single_source


def refresh_fact_statuses(session: Session) -> None:
    """Recompute every fact's status from its citations and the discrepancies about it."""
    session.flush()
    sources = dict(
        session.exec(
            select(Citation.fact_id, func.count(func.distinct(Citation.source_id))).group_by(
                Citation.fact_id
            )
        ).all()
    )
    disputed = set(session.exec(select(DiscrepancyFact.fact_id)))
    for fact in session.exec(select(Fact)):
        status = derive_status(sources.get(fact.id, 0), fact.id in disputed).value
        if fact.status != status:
            fact.status = status
    session.flush()


def load_fact_base(session: Session, data: dict[str, Any]) -> dict[str, int]:
    """Insert the fact base from seed data, leaving rows that already exist untouched.

    Existing rows are kept so that edits made by campaign staff survive a re-seed; running it
    twice changes nothing. Returns how many rows of each kind were added.
    """
    added: dict[str, int] = defaultdict(int)

    def add_missing(model: type[Any], key: Any, row: Any, kind: str) -> bool:
        if session.get(model, key) is not None:
            return False
        session.add(row)
        added[kind] += 1
        return True

    for position, item in enumerate(data["sources"]):
        add_missing(
            Source,
            item["id"],
            Source(
                id=item["id"],
                position=position,
                title=item.get("title"),
                publisher=item.get("publisher"),
                published=_date_or_none(item.get("published")),
                kind=item["kind"],
                language=item["language"],
                content_sha256=item["content_sha256"],
            ),
            "sources",
        )
    session.flush()
    new_facts = []
    for position, item in enumerate(data["facts"]):
        occurred = item.get("occurred")
        fact = Fact(
            id=item["id"],
            position=position,
            topic=item["topic"],
            statement=item["statement"],
            status=FactStatus.single_source.value,
        )
        if occurred:
            precision = Precision(occurred["precision"])
            fact.occurred_date = dt.date.fromisoformat(occurred["date"])
            fact.occurred_end = period_end(fact.occurred_date, precision)
            fact.occurred_precision = precision.value
            fact.occurred_inferred = bool(occurred["inferred"])
        if add_missing(Fact, item["id"], fact, "facts"):
            new_facts.append(item)
    new_discrepancies = []
    for position, item in enumerate(data.get("discrepancies", [])):
        discrepancy = Discrepancy(id=item["id"], position=position, about=item["about"])
        if add_missing(Discrepancy, item["id"], discrepancy, "discrepancies"):
            new_discrepancies.append(item)
    # Parents first: no ORM relationships tell the flush which order to insert in.
    session.flush()
    for item in new_facts:
        for index, citation in enumerate(item["citations"]):
            session.add(Citation(fact_id=item["id"], position=index, **citation))
            added["citations"] += 1
    for item in new_discrepancies:
        for index, version in enumerate(item["versions"]):
            session.add(DiscrepancyVersion(discrepancy_id=item["id"], position=index, **version))
        for fact_id in item.get("fact_ids", []):
            session.add(DiscrepancyFact(discrepancy_id=item["id"], fact_id=fact_id))
    incident = data["incident"]
    details = {k: incident[k] for k in ("where", "when", "child", "people", "agencies")}
    add_missing(
        Incident,
        incident.get("id", "incident"),
        Incident(
            id=incident.get("id", "incident"),
            title=incident["title"],
            summary=incident["summary"],
            details=details,
        ),
        "incident",
    )
    refresh_fact_statuses(session)
    return dict(added)


def _date_or_none(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


# --- citation verification ----------------------------------------------------------------


@dataclass
class VerificationReport:
    checked_quotes: int = 0
    matched_files: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_citations(session: Session, directory: Path) -> VerificationReport:
    """Check every stored quote against the source files in `directory`.

    Files are matched to sources by SHA-256 of their bytes, so file names do not matter.
    """
    report = VerificationReport()
    texts: dict[str, str] = {}
    by_hash = {s.content_sha256: s for s in session.exec(select(Source))}
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        raw = path.read_bytes()
        source = by_hash.get(hashlib.sha256(raw).hexdigest())
        if source is None:
            continue
        texts[source.id] = raw.decode("utf-8")
        report.matched_files[source.id] = path.name
    for source in by_hash.values():
        if source.id not in texts:
            report.problems.append(
                f"source '{source.id}': no file in {directory} has SHA-256 {source.content_sha256}"
            )
    quotes: list[tuple[str, str, str, int, int]] = [
        (f"fact '{c.fact_id}' citation {c.position}", c.source_id, c.quote, c.start, c.end)
        for c in session.exec(select(Citation))
    ] + [
        (
            f"discrepancy '{v.discrepancy_id}' version {v.position}",
            v.source_id,
            v.quote,
            v.start,
            v.end,
        )
        for v in session.exec(select(DiscrepancyVersion))
    ]
    for where, source_id, quote, start, end in quotes:
        text = texts.get(source_id)
        if text is None:
            continue  # already reported as a source with no file
        report.checked_quotes += 1
        found = text[start:end]
        if found != quote:
            elsewhere = text.find(quote)
            hint = f"; the quote stands at {elsewhere}" if elsewhere >= 0 else "; not in the text"
            report.problems.append(
                f"{where} ({source_id} [{start}:{end}]): expected {quote!r}, "
                f"text has {found!r}{hint}"
            )
    return report
