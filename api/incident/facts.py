"""Staff editing of facts and their citations (the admin API). Each citation's quote is
checked when saved (api.incident.editing); the fact's status is then recomputed."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from api.errors import Conflict, NotFound, invalid
from api.incident.admin_schemas import (
    CitationAdmin,
    CitationIn,
    CitationUpdate,
    FactCreate,
    FactUpdate,
    OccurredIn,
)
from api.incident.editing import QuoteIn, check_quotes, next_position
from api.incident.models import Citation, Fact, FactStatus, Precision
from api.incident.reads import fact_row, get_fact
from api.incident.schemas import FactPublic
from api.incident.statuses import refresh_fact_statuses


def create_fact(session: Session, data: FactCreate) -> FactPublic:
    if session.get(Fact, data.id) is not None:
        raise Conflict(f"A fact with id '{data.id}' already exists.")
    fact = Fact(
        id=data.id,
        position=data.position if data.position is not None else next_position(session, Fact),
        topic=data.topic,
        statement=data.statement,
        status=FactStatus.single_source.value,
    )
    _set_occurred(fact, data.occurred)
    _replace_citations(session, fact, data.citations)
    session.add(fact)
    refresh_fact_statuses(session, [fact.id])
    return get_fact(session, fact.id)


def update_fact(session: Session, fact_id: str, data: FactUpdate) -> FactPublic:
    fact = fact_row(session, fact_id)
    given = data.model_fields_set
    for name in ("topic", "statement", "position"):
        if name in given:
            setattr(fact, name, getattr(data, name))
    if "occurred" in given:
        _set_occurred(fact, data.occurred)
    if "citations" in given:
        _replace_citations(session, fact, data.citations)
    refresh_fact_statuses(session, [fact_id])
    return get_fact(session, fact_id)


def delete_fact(session: Session, fact_id: str) -> None:
    # Its citations and discrepancy links go with it (the relationships' cascade). No other
    # fact's status depends on this one's rows, so there is no status to recompute.
    session.delete(fact_row(session, fact_id))
    session.flush()


def _set_occurred(fact: Fact, occurred: OccurredIn | None) -> None:
    if occurred is None:
        fact.clear_occurred()
        return
    date = occurred.date
    if occurred.precision is Precision.month and date.day != 1:
        raise invalid("occurred.date", "With precision `month` the day must be 01.", "precision")
    if occurred.precision is Precision.year and (date.month, date.day) != (1, 1):
        raise invalid(
            "occurred.date", "With precision `year` the date must be YYYY-01-01.", "precision"
        )
    fact.set_occurred(date, occurred.precision, occurred.inferred)


def _replace_citations(session: Session, fact: Fact, citations: Sequence[CitationIn]) -> None:
    check_quotes(
        session,
        [
            QuoteIn(f"citations.{i}", c.source_id, c.quote, c.start, c.end)
            for i, c in enumerate(citations)
        ],
    )
    # The old citations are orphans now, deleted at the flush (a new one at an old position
    # becomes an UPDATE of that row).
    fact.citations = [
        Citation(fact_id=fact.id, position=index, **citation.model_dump())
        for index, citation in enumerate(citations)
    ]


# --- citations, one at a time ----------------------------------------------------------------


def get_citation(session: Session, fact_id: str, position: int) -> CitationAdmin:
    return _citation_admin(_citation(session, fact_id, position))


def add_citation(session: Session, fact_id: str, data: CitationIn) -> CitationAdmin:
    fact = fact_row(session, fact_id)
    check_quotes(session, [QuoteIn("", data.source_id, data.quote, data.start, data.end)])
    highest = max((c.position for c in fact.citations), default=-1)
    citation = Citation(fact_id=fact_id, position=highest + 1, **data.model_dump())
    fact.citations.append(citation)
    refresh_fact_statuses(session, [fact_id])
    return _citation_admin(citation)


def update_citation(
    session: Session, fact_id: str, position: int, data: CitationUpdate
) -> CitationAdmin:
    citation = _citation(session, fact_id, position)
    for name in data.model_fields_set:
        setattr(citation, name, getattr(data, name))
    check_quotes(
        session,
        [QuoteIn("", citation.source_id, citation.quote, citation.start, citation.end)],
    )
    session.add(citation)
    refresh_fact_statuses(session, [fact_id])
    return _citation_admin(citation)


def delete_citation(session: Session, fact_id: str, position: int) -> None:
    citation = _citation(session, fact_id, position)
    siblings = citation.fact.citations
    if len(siblings) <= 1:
        raise Conflict(
            f"Citation {position} is the only source of fact '{fact_id}'; a fact needs one. "
            "Delete the fact instead, or add another citation first."
        )
    siblings.remove(citation)  # an orphan: deleted at the flush
    refresh_fact_statuses(session, [fact_id])


def _citation(session: Session, fact_id: str, position: int) -> Citation:
    fact_row(session, fact_id)
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
