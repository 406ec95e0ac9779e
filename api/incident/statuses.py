"""Keeping fact statuses true: after every edit that can move them, the statuses of the facts
it touched are recomputed with the one rule (api.incident.support.derive_status)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func
from sqlmodel import Session, col, select

from api.incident.models import Citation, Discrepancy, DiscrepancyFact, DiscrepancyKind, Fact
from api.incident.support import derive_status


def refresh_fact_statuses(session: Session, fact_ids: Iterable[str] | None) -> None:
    """Recompute the status of the facts `fact_ids` (None: every fact, as after a seed) from
    their citations and the substantive discrepancies about them (a wording discrepancy
    disputes nothing).

    An edit can move only the statuses of the facts it names: a fact whose citations changed,
    or the facts a discrepancy concerned before and after its change. Flushes the edit first.
    """
    session.flush()
    sources = select(Citation.fact_id, func.count(func.distinct(Citation.source_id))).group_by(
        Citation.fact_id
    )
    disputed = (
        select(DiscrepancyFact.fact_id)
        .join(Discrepancy, col(Discrepancy.id) == col(DiscrepancyFact.discrepancy_id))
        .where(Discrepancy.kind == DiscrepancyKind.substantive.value)
    )
    facts = select(Fact)
    if fact_ids is not None:
        ids = sorted(set(fact_ids))
        if not ids:
            return
        sources = sources.where(col(Citation.fact_id).in_(ids))
        disputed = disputed.where(col(DiscrepancyFact.fact_id).in_(ids))
        facts = facts.where(col(Fact.id).in_(ids))
    source_counts = dict(session.exec(sources).all())
    disputed_ids = set(session.exec(disputed))
    for fact in session.exec(facts):
        status = derive_status(source_counts.get(fact.id, 0), fact.id in disputed_ids).value
        if fact.status != status:
            fact.status = status
    session.flush()
