"""Staff editing of discrepancies between sources (the admin API). Each version's quote is
checked when saved (api.incident.editing), the versions must be a disagreement between sources
(api.incident.support), and the statuses of the facts concerned are then recomputed."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from api.errors import Conflict, FieldError
from api.incident.admin_schemas import DiscrepancyCreate, DiscrepancyUpdate, DiscrepancyVersionIn
from api.incident.editing import QuoteIn, body_error, check_quotes, next_position, refuse
from api.incident.models import Discrepancy, DiscrepancyFact, DiscrepancyVersion, Fact
from api.incident.reads import discrepancy_row, get_discrepancy
from api.incident.schemas import DiscrepancyPublic
from api.incident.statuses import refresh_fact_statuses
from api.incident.support import VersionSays, discrepancy_problem


def create_discrepancy(session: Session, data: DiscrepancyCreate) -> DiscrepancyPublic:
    if session.get(Discrepancy, data.id) is not None:
        raise Conflict(f"A discrepancy with id '{data.id}' already exists.")
    position = data.position if data.position is not None else next_position(session, Discrepancy)
    discrepancy = Discrepancy(id=data.id, position=position, kind=data.kind.value, about=data.about)
    _replace_parts(session, discrepancy, data.fact_ids, data.versions)
    _check_disagreement(discrepancy)
    session.add(discrepancy)
    refresh_fact_statuses(session, data.fact_ids)
    return get_discrepancy(session, data.id)


def update_discrepancy(
    session: Session, discrepancy_id: str, data: DiscrepancyUpdate
) -> DiscrepancyPublic:
    discrepancy = discrepancy_row(session, discrepancy_id)
    concerned_before = _concerned(discrepancy)
    given = data.model_fields_set
    for name in ("about", "position"):
        if name in given:
            setattr(discrepancy, name, getattr(data, name))
    if "kind" in given:
        discrepancy.kind = data.kind.value
    _replace_parts(
        session,
        discrepancy,
        data.fact_ids if "fact_ids" in given else None,
        data.versions if "versions" in given else None,
    )
    _check_disagreement(discrepancy)
    refresh_fact_statuses(session, concerned_before | _concerned(discrepancy))
    return get_discrepancy(session, discrepancy_id)


def delete_discrepancy(session: Session, discrepancy_id: str) -> None:
    discrepancy = discrepancy_row(session, discrepancy_id)
    concerned = _concerned(discrepancy)
    session.delete(discrepancy)  # its versions and fact links go with it (the cascade)
    refresh_fact_statuses(session, concerned)


def _concerned(discrepancy: Discrepancy) -> set[str]:
    """The facts whose status this discrepancy can move."""
    return {link.fact_id for link in discrepancy.fact_links}


def _replace_parts(
    session: Session,
    discrepancy: Discrepancy,
    fact_ids: Sequence[str] | None,
    versions: Sequence[DiscrepancyVersionIn] | None,
) -> None:
    """Check, then replace the lists given (None: keep). The rows replaced are orphans,
    deleted at the flush; a new row with an old one's key becomes an UPDATE of it."""
    if fact_ids is not None:
        _check_fact_ids(session, fact_ids)
    if versions is not None:
        check_quotes(
            session,
            [
                QuoteIn(f"versions.{i}", v.source_id, v.quote, v.start, v.end)
                for i, v in enumerate(versions)
            ],
        )
        discrepancy.versions = [
            DiscrepancyVersion(
                discrepancy_id=discrepancy.id, position=index, **version.model_dump()
            )
            for index, version in enumerate(versions)
        ]
    if fact_ids is not None:
        discrepancy.fact_links = [
            DiscrepancyFact(discrepancy_id=discrepancy.id, fact_id=fact_id) for fact_id in fact_ids
        ]


def _check_fact_ids(session: Session, fact_ids: Sequence[str]) -> None:
    known = set(session.exec(select(Fact.id).where(col(Fact.id).in_(list(fact_ids)))))
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, fact_id in enumerate(fact_ids):
        if fact_id not in known:
            errors.append(
                body_error(f"fact_ids.{index}", f"No fact with id '{fact_id}'.", "unknown")
            )
        elif fact_id in seen:
            errors.append(body_error(f"fact_ids.{index}", "Listed twice.", "duplicate"))
        seen.add(fact_id)
    if errors:
        raise refuse(errors)


def _check_disagreement(discrepancy: Discrepancy) -> None:
    """The versions must be a disagreement between sources (api.incident.support)."""
    problem = discrepancy_problem([VersionSays(v.source_id, v.says) for v in discrepancy.versions])
    if problem is not None:
        raise refuse(
            [body_error("versions", problem[0].upper() + problem[1:] + ".", "no_disagreement")]
        )
