"""Admin edits of the fact base: sources, facts, citations and discrepancies. The incident
domain does the work and checks it; this layer records who did it in the audit log.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from api.admin.audit import audited, snapshot
from api.admin.auth import Actor
from api.errors import Conflict
from api.incident import discrepancies, facts, reads, sources
from api.incident.admin_schemas import (
    CitationAdmin,
    CitationIn,
    CitationUpdate,
    DiscrepancyCreate,
    DiscrepancyUpdate,
    FactCreate,
    FactUpdate,
    SourceAdmin,
    SourceCreate,
    SourceUpdate,
)
from api.incident.schemas import DiscrepancyPublic, FactPublic
from api.petitions import catalog

# --- sources ------------------------------------------------------------------------------


def _source_snapshot(source: SourceAdmin) -> dict[str, Any]:
    # The text can be long: the log keeps its hash (content_sha256) and length.
    data = snapshot(source, exclude={"text", "fact_count"})
    data["text_length"] = len(source.text) if source.text is not None else None
    return data


def create_source(session: Session, actor: Actor, data: SourceCreate) -> SourceAdmin:
    with audited(session, actor, "source.create", "source") as step:
        source = sources.create_source(session, data)
        step.target_id, step.after = source.id, _source_snapshot(source)
    return source


def update_source(
    session: Session, actor: Actor, source_id: str, data: SourceUpdate
) -> SourceAdmin:
    before = _source_snapshot(sources.get_source_admin(session, source_id))
    with audited(session, actor, "source.update", "source", source_id, before=before) as step:
        source = sources.update_source(session, source_id, data)
        step.after = _source_snapshot(source)
    return source


def delete_source(session: Session, actor: Actor, source_id: str) -> None:
    before = _source_snapshot(sources.get_source_admin(session, source_id))
    with audited(session, actor, "source.delete", "source", source_id, before=before):
        sources.delete_source(session, source_id)


# --- facts --------------------------------------------------------------------------------


def create_fact(session: Session, actor: Actor, data: FactCreate) -> FactPublic:
    with audited(session, actor, "fact.create", "fact") as step:
        fact = facts.create_fact(session, data)
        step.target_id, step.after = fact.id, snapshot(fact)
    return fact


def update_fact(session: Session, actor: Actor, fact_id: str, data: FactUpdate) -> FactPublic:
    before = snapshot(reads.get_fact(session, fact_id))
    with audited(session, actor, "fact.update", "fact", fact_id, before=before) as step:
        fact = facts.update_fact(session, fact_id, data)
        step.after = snapshot(fact)
    return fact


def delete_fact(session: Session, actor: Actor, fact_id: str) -> None:
    before = snapshot(reads.get_fact(session, fact_id))
    citing = catalog.petitions_citing_fact(session, fact_id)
    if citing:
        raise Conflict(
            f"The text of petition '{citing[0]}' refers to [fact:{fact_id}]; edit it first."
        )
    with audited(session, actor, "fact.delete", "fact", fact_id, before=before):
        facts.delete_fact(session, fact_id)


# --- citations ----------------------------------------------------------------------------


def add_citation(session: Session, actor: Actor, fact_id: str, data: CitationIn) -> CitationAdmin:
    with audited(session, actor, "citation.create", "citation") as step:
        citation = facts.add_citation(session, fact_id, data)
        step.target_id, step.after = f"{fact_id}/{citation.position}", snapshot(citation)
    return citation


def update_citation(
    session: Session, actor: Actor, fact_id: str, position: int, data: CitationUpdate
) -> CitationAdmin:
    before = snapshot(facts.get_citation(session, fact_id, position))
    target = f"{fact_id}/{position}"
    with audited(session, actor, "citation.update", "citation", target, before=before) as step:
        citation = facts.update_citation(session, fact_id, position, data)
        step.after = snapshot(citation)
    return citation


def delete_citation(session: Session, actor: Actor, fact_id: str, position: int) -> None:
    before = snapshot(facts.get_citation(session, fact_id, position))
    target = f"{fact_id}/{position}"
    with audited(session, actor, "citation.delete", "citation", target, before=before):
        facts.delete_citation(session, fact_id, position)


# --- discrepancies ------------------------------------------------------------------------


def create_discrepancy(
    session: Session, actor: Actor, data: DiscrepancyCreate
) -> DiscrepancyPublic:
    with audited(session, actor, "discrepancy.create", "discrepancy") as step:
        discrepancy = discrepancies.create_discrepancy(session, data)
        step.target_id, step.after = discrepancy.id, snapshot(discrepancy)
    return discrepancy


def update_discrepancy(
    session: Session, actor: Actor, discrepancy_id: str, data: DiscrepancyUpdate
) -> DiscrepancyPublic:
    before = snapshot(reads.get_discrepancy(session, discrepancy_id))
    with audited(
        session, actor, "discrepancy.update", "discrepancy", discrepancy_id, before=before
    ) as step:
        discrepancy = discrepancies.update_discrepancy(session, discrepancy_id, data)
        step.after = snapshot(discrepancy)
    return discrepancy


def delete_discrepancy(session: Session, actor: Actor, discrepancy_id: str) -> None:
    before = snapshot(reads.get_discrepancy(session, discrepancy_id))
    with audited(
        session, actor, "discrepancy.delete", "discrepancy", discrepancy_id, before=before
    ):
        discrepancies.delete_discrepancy(session, discrepancy_id)
