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

from sqlalchemy import delete, func, or_
from sqlmodel import Session, col, select

from api.errors import Conflict, FieldError, NotFound, UnprocessableContent, field_error, invalid
from api.incident.models import (
    Child,
    Citation,
    CitationAdmin,
    CitationIn,
    CitationPublic,
    CitationUpdate,
    CslDate,
    CslItem,
    Discrepancy,
    DiscrepancyCreate,
    DiscrepancyFact,
    DiscrepancyKind,
    DiscrepancyPublic,
    DiscrepancyUpdate,
    DiscrepancyVersion,
    DiscrepancyVersionIn,
    DiscrepancyVersionPublic,
    Fact,
    FactCreate,
    FactPublic,
    FactStatus,
    FactUpdate,
    Incident,
    IncidentCounts,
    IncidentDate,
    IncidentPublic,
    Occurred,
    OccurredIn,
    Party,
    Place,
    Precision,
    Source,
    SourceAdmin,
    SourceCreate,
    SourcePublic,
    SourceUpdate,
    TimelineEntry,
)
from api.incident.support import (
    VersionSays,
    check_fact_base,
    derive_label,
    derive_status,
    discrepancy_problem,
    evidence_problem,
    fact_references,
    label_problem,
    quote_problem,
    unknown_references,
)
from api.pagination import PageParams, paginate
from api.text import escape_like

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


def unknown_fact_references(session: Session, body: str) -> list[str]:
    """The `[fact:ID]`s in a petition's text that name no fact."""
    referenced = fact_references(body)
    known = set(session.exec(select(Fact.id).where(col(Fact.id).in_(referenced))))
    return unknown_references(body, known)


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
    session: Session, page: PageParams, kind: DiscrepancyKind | None = None
) -> tuple[list[DiscrepancyPublic], str | None]:
    statement = select(Discrepancy)
    if kind is not None:
        statement = statement.where(Discrepancy.kind == kind.value)
    rows, cursor = paginate(
        session,
        statement,
        [Discrepancy.position, Discrepancy.id],
        page,
        key=lambda row: (row.position, row.id),
    )
    return _hydrate_discrepancies(session, rows), cursor


def _hydrate_discrepancies(
    session: Session, discrepancies: Sequence[Discrepancy]
) -> list[DiscrepancyPublic]:
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
        DiscrepancyPublic(
            id=d.id,
            kind=DiscrepancyKind(d.kind),
            about=d.about,
            fact_ids=fact_ids[d.id],
            versions=versions[d.id],
        )
        for d in discrepancies
    ]


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
        label=source.label,
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


def refresh_fact_statuses(session: Session) -> None:
    """Recompute every fact's status from its citations and the substantive discrepancies
    about it (a wording discrepancy disputes nothing)."""
    session.flush()
    sources = dict(
        session.exec(
            select(Citation.fact_id, func.count(func.distinct(Citation.source_id))).group_by(
                Citation.fact_id
            )
        ).all()
    )
    disputed = set(
        session.exec(
            select(DiscrepancyFact.fact_id)
            .join(Discrepancy, col(Discrepancy.id) == col(DiscrepancyFact.discrepancy_id))
            .where(Discrepancy.kind == DiscrepancyKind.substantive.value)
        )
    )
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
                label=item.get("label"),
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
        discrepancy = Discrepancy(
            id=item["id"],
            position=position,
            kind=DiscrepancyKind(item["kind"]).value,
            about=item["about"],
        )
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
    """Check every stored quote against the source files in `directory`, then run the support
    check (api.incident.support) over the whole fact base.

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
        problem = quote_problem(text, quote, start, end)
        if problem is not None:
            report.problems.append(f"{where} ({source_id}): the quote {problem}")
    # Beyond verbatim: the support check (clauses, real disagreements, statuses, references).
    report.problems.extend(check_fact_base(session, texts))
    return report


# --- editing (the admin API) ----------------------------------------------------------------
#
# Every quote is checked when it is saved: its source must exist, and when the source's text is
# stored the quote must stand verbatim at its offsets. Fact statuses are recomputed after every
# change that can move them.


@dataclass(frozen=True)
class _QuoteIn:
    field: str  # where it sits in the request body, e.g. "citations.0"; "" at the top level
    source_id: str
    quote: str
    start: int
    end: int


def _body_error(path: str, message: str, code: str) -> FieldError:
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in path.split(".")]
    return field_error(["body", *parts], message, code)


def _refuse(errors: Sequence[FieldError]) -> UnprocessableContent:
    summary = "; ".join(f"{e.field}: {e.message}" for e in errors[:3])
    return UnprocessableContent(f"The request is not valid. {summary}", errors=errors)


def _check_quotes(session: Session, quotes: Sequence[_QuoteIn]) -> None:
    ids = {q.source_id for q in quotes}
    sources = {s.id: s for s in session.exec(select(Source).where(col(Source.id).in_(ids)))}
    errors: list[FieldError] = []
    for q in quotes:
        prefix = f"{q.field}." if q.field else ""
        not_evidence = evidence_problem(q.quote)
        if not_evidence is not None:
            errors.append(
                _body_error(prefix + "quote", f"The quote {not_evidence}.", "not_a_clause")
            )
        source = sources.get(q.source_id)
        if source is None:
            errors.append(
                _body_error(
                    prefix + "source_id", f"No source with id '{q.source_id}'.", "unknown_source"
                )
            )
        elif source.text is not None:
            problem = quote_problem(source.text, q.quote, q.start, q.end)
            if problem is not None:
                errors.append(
                    _body_error(
                        prefix + "quote",
                        f"The quote {problem} of source '{q.source_id}'.",
                        "quote_not_verbatim",
                    )
                )
        elif q.end - q.start != len(q.quote):
            errors.append(
                _body_error(
                    prefix + "end",
                    f"end - start must equal the quote's length ({len(q.quote)}); "
                    f"got [{q.start}:{q.end}].",
                    "offsets_mismatch",
                )
            )
    if errors:
        raise _refuse(errors)


def _next_position(session: Session, model: Any) -> int:
    highest = session.exec(select(func.max(model.position))).one()
    return 0 if highest is None else int(highest) + 1


def _content_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# sources


def _source(session: Session, source_id: str) -> Source:
    source = session.get(Source, source_id)
    if source is None:
        raise NotFound(f"No source with id '{source_id}'.")
    return source


def get_source_admin(session: Session, source_id: str) -> SourceAdmin:
    source = _source(session, source_id)
    public = _source_public(source, _fact_counts(session, [source_id]).get(source_id, 0))
    return SourceAdmin(**public.model_dump(), has_text=source.text is not None, text=source.text)


def _require_unique_hash(session: Session, digest: str, source_id: str) -> None:
    other = session.exec(
        select(Source.id).where(Source.content_sha256 == digest, Source.id != source_id)
    ).first()
    if other is not None:
        raise Conflict(f"Source '{other}' already has this content (SHA-256 {digest}).")


def create_source(session: Session, data: SourceCreate) -> SourceAdmin:
    if session.get(Source, data.id) is not None:
        raise Conflict(f"A source with id '{data.id}' already exists.")
    if data.text is not None:
        digest = _content_sha256(data.text)
        if data.content_sha256 is not None and data.content_sha256 != digest:
            raise invalid(
                "content_sha256",
                f"Is not the SHA-256 of `text` as UTF-8 ({digest}); send the matching hash or "
                "leave it out.",
                "hash_mismatch",
            )
    elif data.content_sha256 is not None:
        digest = data.content_sha256
    else:
        raise invalid(
            "content_sha256", "Required when no `text` is sent.", "missing_content_sha256"
        )
    _require_unique_hash(session, digest, data.id)
    label = data.label or derive_label(data.title, data.text)
    _check_label(label, data.title, data.text)
    session.add(
        Source(
            id=data.id,
            position=_next_position(session, Source),
            title=data.title,
            label=label,
            publisher=data.publisher,
            published=data.published,
            kind=data.kind,
            language=data.language,
            content_sha256=digest,
            text=data.text,
        )
    )
    session.flush()
    return get_source_admin(session, data.id)


def update_source(session: Session, source_id: str, data: SourceUpdate) -> SourceAdmin:
    source = _source(session, source_id)
    given = data.model_fields_set
    for name in ("title", "label", "publisher", "published", "kind", "language"):
        if name in given:
            setattr(source, name, getattr(data, name))
    if "text" in given:
        digest = _content_sha256(data.text)
        if "content_sha256" in given and data.content_sha256 != digest:
            raise invalid(
                "content_sha256",
                f"Is not the SHA-256 of `text` as UTF-8 ({digest}).",
                "hash_mismatch",
            )
        _check_existing_quotes(session, source_id, data.text)
        source.text = data.text
        source.content_sha256 = digest
    elif "content_sha256" in given and data.content_sha256 != source.content_sha256:
        if source.text is not None:
            raise invalid(
                "content_sha256",
                "The stored text has another SHA-256; send the new `text` instead.",
                "hash_mismatch",
            )
        source.content_sha256 = data.content_sha256
    # Not flushed before the check: the unique index would turn the documented 409 into a 500.
    with session.no_autoflush:
        _require_unique_hash(session, source.content_sha256, source_id)
    if source.label is None:
        source.label = derive_label(source.title, source.text)
    _check_label(source.label, source.title, source.text)
    session.add(source)
    session.flush()
    return get_source_admin(session, source_id)


def _check_label(label: str | None, title: str | None, text: str | None) -> None:
    if label is None or text is None:
        return  # nothing to derive it from, or nothing to check it against
    problem = label_problem(label, title, text)
    if problem is not None:
        raise invalid("label", f"Is not derived from the text: {problem}.", "label_not_from_text")


def _check_existing_quotes(session: Session, source_id: str, text: str) -> None:
    """A new text must still hold every quote already citing the source."""
    errors: list[FieldError] = []
    for citation in session.exec(
        select(Citation)
        .where(Citation.source_id == source_id)
        .order_by(col(Citation.fact_id), col(Citation.position))
    ):
        problem = quote_problem(text, citation.quote, citation.start, citation.end)
        if problem is not None:
            errors.append(
                _body_error(
                    "text",
                    f"Fact '{citation.fact_id}' citation {citation.position}: the quote {problem}.",
                    "quote_not_verbatim",
                )
            )
    for version in session.exec(
        select(DiscrepancyVersion)
        .where(DiscrepancyVersion.source_id == source_id)
        .order_by(col(DiscrepancyVersion.discrepancy_id), col(DiscrepancyVersion.position))
    ):
        problem = quote_problem(text, version.quote, version.start, version.end)
        if problem is not None:
            errors.append(
                _body_error(
                    "text",
                    f"Discrepancy '{version.discrepancy_id}' version {version.position}: "
                    f"the quote {problem}.",
                    "quote_not_verbatim",
                )
            )
    if errors:
        raise _refuse(errors)


def delete_source(session: Session, source_id: str) -> None:
    source = _source(session, source_id)
    cited_by = (
        session.exec(
            select(func.count()).select_from(Citation).where(Citation.source_id == source_id)
        ).one()
        + session.exec(
            select(func.count())
            .select_from(DiscrepancyVersion)
            .where(DiscrepancyVersion.source_id == source_id)
        ).one()
    )
    if cited_by:
        raise Conflict(
            f"Source '{source_id}' is quoted {cited_by} times; remove those quotes first."
        )
    session.delete(source)
    session.flush()


# facts and their citations


def _fact(session: Session, fact_id: str) -> Fact:
    fact = session.get(Fact, fact_id)
    if fact is None:
        raise NotFound(f"No fact with id '{fact_id}'.")
    return fact


def _set_occurred(fact: Fact, occurred: OccurredIn | None) -> None:
    if occurred is None:
        fact.occurred_date = fact.occurred_end = None
        fact.occurred_precision = None
        fact.occurred_inferred = None
        return
    date = occurred.date
    if occurred.precision is Precision.month and date.day != 1:
        raise invalid("occurred.date", "With precision `month` the day must be 01.", "precision")
    if occurred.precision is Precision.year and (date.month, date.day) != (1, 1):
        raise invalid(
            "occurred.date", "With precision `year` the date must be YYYY-01-01.", "precision"
        )
    fact.occurred_date = date
    fact.occurred_end = period_end(date, occurred.precision)
    fact.occurred_precision = occurred.precision.value
    fact.occurred_inferred = occurred.inferred


def _replace_citations(session: Session, fact_id: str, citations: Sequence[CitationIn]) -> None:
    _check_quotes(
        session,
        [
            _QuoteIn(f"citations.{i}", c.source_id, c.quote, c.start, c.end)
            for i, c in enumerate(citations)
        ],
    )
    session.exec(delete(Citation).where(col(Citation.fact_id) == fact_id))
    session.flush()
    for index, citation in enumerate(citations):
        session.add(Citation(fact_id=fact_id, position=index, **citation.model_dump()))


def create_fact(session: Session, data: FactCreate) -> FactPublic:
    if session.get(Fact, data.id) is not None:
        raise Conflict(f"A fact with id '{data.id}' already exists.")
    fact = Fact(
        id=data.id,
        position=data.position if data.position is not None else _next_position(session, Fact),
        topic=data.topic,
        statement=data.statement,
        status=FactStatus.single_source.value,
    )
    _set_occurred(fact, data.occurred)
    session.add(fact)
    session.flush()
    _replace_citations(session, fact.id, data.citations)
    refresh_fact_statuses(session)
    return get_fact(session, fact.id)


def update_fact(session: Session, fact_id: str, data: FactUpdate) -> FactPublic:
    fact = _fact(session, fact_id)
    given = data.model_fields_set
    for name in ("topic", "statement", "position"):
        if name in given:
            setattr(fact, name, getattr(data, name))
    if "occurred" in given:
        _set_occurred(fact, data.occurred)
    session.add(fact)
    if "citations" in given:
        _replace_citations(session, fact_id, data.citations)
    refresh_fact_statuses(session)
    return get_fact(session, fact_id)


def delete_fact(session: Session, fact_id: str) -> None:
    fact = _fact(session, fact_id)
    session.exec(delete(Citation).where(col(Citation.fact_id) == fact_id))
    session.exec(delete(DiscrepancyFact).where(col(DiscrepancyFact.fact_id) == fact_id))
    session.delete(fact)
    refresh_fact_statuses(session)


def _citation(session: Session, fact_id: str, position: int) -> Citation:
    _fact(session, fact_id)
    citation = session.get(Citation, (fact_id, position))
    if citation is None:
        raise NotFound(f"Fact '{fact_id}' has no citation at position {position}.")
    return citation


def _citation_admin(citation: Citation) -> CitationAdmin:
    return CitationAdmin(
        fact_id=citation.fact_id,
        position=citation.position,
        source_id=citation.source_id,
        quote=citation.quote,
        start=citation.start,
        end=citation.end,
    )


def get_citation(session: Session, fact_id: str, position: int) -> CitationAdmin:
    return _citation_admin(_citation(session, fact_id, position))


def add_citation(session: Session, fact_id: str, data: CitationIn) -> CitationAdmin:
    _fact(session, fact_id)
    _check_quotes(session, [_QuoteIn("", data.source_id, data.quote, data.start, data.end)])
    highest = session.exec(
        select(func.max(Citation.position)).where(Citation.fact_id == fact_id)
    ).one()
    citation = Citation(
        fact_id=fact_id, position=0 if highest is None else highest + 1, **data.model_dump()
    )
    session.add(citation)
    refresh_fact_statuses(session)
    return _citation_admin(citation)


def update_citation(
    session: Session, fact_id: str, position: int, data: CitationUpdate
) -> CitationAdmin:
    citation = _citation(session, fact_id, position)
    for name in data.model_fields_set:
        setattr(citation, name, getattr(data, name))
    _check_quotes(
        session,
        [_QuoteIn("", citation.source_id, citation.quote, citation.start, citation.end)],
    )
    session.add(citation)
    refresh_fact_statuses(session)
    return _citation_admin(citation)


def delete_citation(session: Session, fact_id: str, position: int) -> None:
    citation = _citation(session, fact_id, position)
    remaining = session.exec(
        select(func.count()).select_from(Citation).where(Citation.fact_id == fact_id)
    ).one()
    if remaining <= 1:
        raise Conflict(
            f"Citation {position} is the only source of fact '{fact_id}'; a fact needs one. "
            "Delete the fact instead, or add another citation first."
        )
    session.delete(citation)
    refresh_fact_statuses(session)


# discrepancies


def get_discrepancy(session: Session, discrepancy_id: str) -> DiscrepancyPublic:
    discrepancy = session.get(Discrepancy, discrepancy_id)
    if discrepancy is None:
        raise NotFound(f"No discrepancy with id '{discrepancy_id}'.")
    return _hydrate_discrepancies(session, [discrepancy])[0]


def _replace_discrepancy_parts(
    session: Session,
    discrepancy_id: str,
    fact_ids: Sequence[str] | None,
    versions: Sequence[DiscrepancyVersionIn] | None,
) -> None:
    errors: list[FieldError] = []
    if fact_ids is not None:
        known = set(session.exec(select(Fact.id).where(col(Fact.id).in_(list(fact_ids)))))
        seen: set[str] = set()
        for index, fact_id in enumerate(fact_ids):
            if fact_id not in known:
                errors.append(
                    _body_error(f"fact_ids.{index}", f"No fact with id '{fact_id}'.", "unknown")
                )
            elif fact_id in seen:
                errors.append(_body_error(f"fact_ids.{index}", "Listed twice.", "duplicate"))
            seen.add(fact_id)
    if errors:
        raise _refuse(errors)
    if versions is not None:
        _check_quotes(
            session,
            [
                _QuoteIn(f"versions.{i}", v.source_id, v.quote, v.start, v.end)
                for i, v in enumerate(versions)
            ],
        )
        session.exec(
            delete(DiscrepancyVersion).where(
                col(DiscrepancyVersion.discrepancy_id) == discrepancy_id
            )
        )
    if fact_ids is not None:
        session.exec(
            delete(DiscrepancyFact).where(col(DiscrepancyFact.discrepancy_id) == discrepancy_id)
        )
    session.flush()
    for index, version in enumerate(versions or []):
        session.add(
            DiscrepancyVersion(
                discrepancy_id=discrepancy_id, position=index, **version.model_dump()
            )
        )
    for fact_id in fact_ids or []:
        session.add(DiscrepancyFact(discrepancy_id=discrepancy_id, fact_id=fact_id))


def _check_disagreement(session: Session, discrepancy_id: str) -> None:
    """The saved versions must be a disagreement between sources (api.incident.support)."""
    session.flush()
    versions = session.exec(
        select(DiscrepancyVersion).where(DiscrepancyVersion.discrepancy_id == discrepancy_id)
    ).all()
    problem = discrepancy_problem([VersionSays(v.source_id, v.says) for v in versions])
    if problem is not None:
        raise _refuse(
            [_body_error("versions", problem[0].upper() + problem[1:] + ".", "no_disagreement")]
        )


def create_discrepancy(session: Session, data: DiscrepancyCreate) -> DiscrepancyPublic:
    if session.get(Discrepancy, data.id) is not None:
        raise Conflict(f"A discrepancy with id '{data.id}' already exists.")
    position = data.position if data.position is not None else _next_position(session, Discrepancy)
    # A refused quote rolls the whole unit of work back, this row included.
    session.add(Discrepancy(id=data.id, position=position, kind=data.kind.value, about=data.about))
    session.flush()
    _replace_discrepancy_parts(session, data.id, data.fact_ids, data.versions)
    _check_disagreement(session, data.id)
    refresh_fact_statuses(session)
    return get_discrepancy(session, data.id)


def update_discrepancy(
    session: Session, discrepancy_id: str, data: DiscrepancyUpdate
) -> DiscrepancyPublic:
    discrepancy = session.get(Discrepancy, discrepancy_id)
    if discrepancy is None:
        raise NotFound(f"No discrepancy with id '{discrepancy_id}'.")
    given = data.model_fields_set
    for name in ("about", "position"):
        if name in given:
            setattr(discrepancy, name, getattr(data, name))
    if "kind" in given:
        discrepancy.kind = data.kind.value
    session.add(discrepancy)
    _replace_discrepancy_parts(
        session,
        discrepancy_id,
        data.fact_ids if "fact_ids" in given else None,
        data.versions if "versions" in given else None,
    )
    _check_disagreement(session, discrepancy_id)
    refresh_fact_statuses(session)
    return get_discrepancy(session, discrepancy_id)


def delete_discrepancy(session: Session, discrepancy_id: str) -> None:
    discrepancy = session.get(Discrepancy, discrepancy_id)
    if discrepancy is None:
        raise NotFound(f"No discrepancy with id '{discrepancy_id}'.")
    session.exec(
        delete(DiscrepancyVersion).where(col(DiscrepancyVersion.discrepancy_id) == discrepancy_id)
    )
    session.exec(
        delete(DiscrepancyFact).where(col(DiscrepancyFact.discrepancy_id) == discrepancy_id)
    )
    session.delete(discrepancy)
    refresh_fact_statuses(session)
