"""Admin rules for petitions (create, edit, translate, open, close) and for the emergency
switch on signing (pause, resume). The petitions domain does the work; each write is audited.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from api.abuse.models import ALL_PETITIONS, SigningPause
from api.admin.audit import audited, iso_time, snapshot
from api.admin.auth import Actor
from api.admin.schemas import (
    PausePublic,
    PauseRequest,
    PetitionAdmin,
    PetitionCreate,
    PetitionDetail,
    PetitionText,
    PetitionUpdate,
    PetitionVersionAdmin,
)
from api.db import utcnow
from api.errors import Conflict, NotFound, invalid
from api.incident import reads as incident
from api.pagination import PageParams
from api.petitions import catalog
from api.petitions.catalog import NewPetition
from api.petitions.counts import verified_counts
from api.petitions.models import Petition, PetitionStatus
from api.petitions.schemas import VersionPublic

# --- what staff see -----------------------------------------------------------------------


def _pause_public(pause: SigningPause) -> PausePublic:
    return PausePublic.model_validate(pause, from_attributes=True)


def _pauses(session: Session) -> dict[str, SigningPause]:
    return {p.scope: p for p in session.exec(select(SigningPause))}


def _petition_admin(
    session: Session,
    petition: Petition,
    pauses: dict[str, SigningPause] | None = None,
    counts: dict[int, int] | None = None,
) -> PetitionAdmin:
    assert petition.id is not None
    pauses = _pauses(session) if pauses is None else pauses
    if counts is None:
        counts = verified_counts(session, [petition.id])
    pause = pauses.get(petition.slug) or pauses.get(ALL_PETITIONS)
    return PetitionAdmin(
        slug=petition.slug,
        title=petition.title,
        ask=petition.ask,
        target=petition.target,
        body=petition.body,
        translations={
            lang: PetitionText(**text) for lang, text in sorted(petition.translations.items())
        },
        status=PetitionStatus(petition.status),
        goal=petition.goal,
        milestones=petition.milestones,
        opens_at=petition.opens_at,
        closes_at=petition.closes_at,
        closed_at=petition.closed_at,
        version=VersionPublic(number=petition.version, content_hash=petition.content_hash),
        verified_count=counts.get(petition.id, 0),
        paused=_pause_public(pause) if pause is not None else None,
        created_at=petition.created_at,
        updated_at=petition.updated_at,
    )


def _petition_detail(session: Session, petition: Petition) -> PetitionDetail:
    assert petition.id is not None
    versions = catalog.petition_versions(session, petition.id)
    return PetitionDetail(
        **_petition_admin(session, petition).model_dump(),
        versions=[PetitionVersionAdmin.model_validate(v, from_attributes=True) for v in versions],
    )


def _petition_snapshot(session: Session, petition: Petition) -> dict[str, Any]:
    return snapshot(_petition_admin(session, petition), exclude={"verified_count", "paused"})


def list_petitions(session: Session, page: PageParams) -> tuple[list[PetitionAdmin], str | None]:
    rows, cursor = catalog.list_all_petitions(session, page)
    pauses = _pauses(session)
    counts = verified_counts(session, [p.id for p in rows if p.id is not None])
    return [_petition_admin(session, p, pauses, counts) for p in rows], cursor


def get_petition(session: Session, slug: str) -> PetitionDetail:
    return _petition_detail(session, catalog.petition_by_slug(session, slug))


# --- editing ------------------------------------------------------------------------------


def _check_window(opens_at: Any, closes_at: Any) -> None:
    if opens_at is not None and closes_at is not None and closes_at <= opens_at:
        raise invalid("closes_at", "Must be after opens_at.", "window")


def _check_fact_references(session: Session, body: str) -> None:
    """Every `[fact:ID]` in a petition's text must name a fact (api.incident.support)."""
    unknown = incident.unknown_fact_references(session, body)
    if unknown:
        names = ", ".join(f"[fact:{fact_id}]" for fact_id in unknown)
        raise invalid("body", f"Refers to no such fact: {names}.", "unknown_fact")


def create_petition(session: Session, actor: Actor, data: PetitionCreate) -> PetitionDetail:
    if session.exec(select(Petition.id).where(Petition.slug == data.slug)).first() is not None:
        raise Conflict(f"A petition with slug '{data.slug}' already exists.")
    _check_window(data.opens_at, data.closes_at)
    _check_fact_references(session, data.body)
    with audited(session, actor, "petition.create", "petition") as step:
        draft = NewPetition(**data.model_dump(), status=PetitionStatus.draft)
        petition = catalog.create_petition(session, draft)
        step.target_id = petition.slug
        step.after = _petition_snapshot(session, petition)
    return _petition_detail(session, petition)


def update_petition(
    session: Session, actor: Actor, slug: str, data: PetitionUpdate
) -> PetitionDetail:
    petition = catalog.petition_by_slug(session, slug, for_update=True)
    before = _petition_snapshot(session, petition)
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    _check_window(
        changes.get("opens_at", petition.opens_at), changes.get("closes_at", petition.closes_at)
    )
    if "body" in changes:
        _check_fact_references(session, changes["body"])
    with audited(session, actor, "petition.update", "petition", slug, before=before) as step:
        catalog.update_petition(session, petition, changes)
        step.after = _petition_snapshot(session, petition)
    return _petition_detail(session, petition)


def set_petition_text(
    session: Session, actor: Actor, slug: str, lang: str, text: PetitionText | None
) -> PetitionDetail:
    """Set (or remove, with None) the petition's text in one language: a new version."""
    petition = catalog.petition_by_slug(session, slug, for_update=True)
    action = "petition.text.set" if text is not None else "petition.text.delete"
    before = _petition_snapshot(session, petition)
    with audited(session, actor, action, "petition", f"{slug}/{lang}", before=before) as step:
        catalog.set_petition_text(
            session, petition, lang, text.model_dump() if text is not None else None
        )
        step.after = _petition_snapshot(session, petition)
    return _petition_detail(session, petition)


def open_petition(session: Session, actor: Actor, slug: str) -> PetitionDetail:
    petition = catalog.petition_by_slug(session, slug, for_update=True)
    before = {"status": petition.status, "closed_at": iso_time(petition.closed_at)}
    with audited(session, actor, "petition.open", "petition", slug, before=before) as step:
        catalog.open_petition(session, petition)
        step.after = {"status": petition.status, "closed_at": None}
    return _petition_detail(session, petition)


def close_petition(session: Session, actor: Actor, slug: str) -> PetitionDetail:
    petition = catalog.petition_by_slug(session, slug, for_update=True)
    before = {"status": petition.status, "closed_at": None}
    with audited(session, actor, "petition.close", "petition", slug, before=before) as step:
        catalog.close_petition(session, petition)
        step.after = {"status": petition.status, "closed_at": iso_time(petition.closed_at)}
    return _petition_detail(session, petition)


# --- the emergency switch -----------------------------------------------------------------


def list_pauses(session: Session) -> list[PausePublic]:
    rows = session.exec(select(SigningPause).order_by(col(SigningPause.scope))).all()
    return [_pause_public(p) for p in rows]


def pause_signing(session: Session, actor: Actor, scope: str, data: PauseRequest) -> PausePublic:
    """Stop signing on one petition (`scope` = its slug) or on all (`*`). Pausing again
    replaces the reason and the retry time."""
    if scope != ALL_PETITIONS:
        catalog.petition_by_slug(session, scope)  # 404 for an unknown slug
    pause = session.get(SigningPause, scope)
    before = snapshot(_pause_public(pause)) if pause is not None else None
    with audited(session, actor, "signing.pause", "signing", scope, before=before) as step:
        if pause is None:
            pause = SigningPause(scope=scope)
        pause.reason = data.reason
        pause.retry_after_seconds = data.retry_after_seconds
        pause.created_at = utcnow()
        session.add(pause)
        session.flush()
        public = _pause_public(pause)
        step.after = snapshot(public)
    return public


def resume_signing(session: Session, actor: Actor, scope: str) -> None:
    pause = session.get(SigningPause, scope)
    if pause is None:
        where = "any petition" if scope == ALL_PETITIONS else f"'{scope}'"
        raise NotFound(f"Signing on {where} is not paused.")
    before = snapshot(_pause_public(pause))
    with audited(session, actor, "signing.resume", "signing", scope, before=before):
        session.delete(pause)
        session.flush()
