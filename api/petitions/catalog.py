"""Petitions themselves: creating them (and seeding them), their text in each language and
its versions, the public reads of a petition and its count, and staff's edits, opening and
closing. Services flush, never commit."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy
from sqlalchemy import or_
from sqlmodel import Session, col, select

from api.db import utcnow
from api.errors import Conflict, NotFound
from api.pagination import PageParams, paginate
from api.petitions.counts import verified_counts
from api.petitions.models import (
    COUNT_SHARDS,
    DEFAULT_TEXT_LANGUAGE,
    CountShard,
    Petition,
    PetitionStatus,
    PetitionVersion,
)
from api.petitions.schemas import CountPublic, PetitionPublic, VersionPublic

TEXT_FIELDS = ("title", "ask", "target", "body")  # a petition's text, in each language


def content_hash(
    title: str,
    ask: str,
    target: str,
    body: str,
    translations: dict[str, dict[str, str]] | None = None,
) -> str:
    """SHA-256 of the text in every language. Without translations it is the hash of the
    English text alone, as before translations existed, so older versions keep their hash."""
    parts: list[Any] = [title, ask, target, body]
    if translations:
        parts.append({lang: translations[lang] for lang in sorted(translations)})
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _hash_of(petition: Petition) -> str:
    return content_hash(
        petition.title, petition.ask, petition.target, petition.body, petition.translations
    )


@dataclass(frozen=True)
class PetitionText:
    language: str
    title: str
    ask: str
    target: str
    body: str


def petition_text(petition: Petition | PetitionVersion, lang: str | None) -> PetitionText:
    """The petition's text (or one version's) in `lang` if it has it, else in English."""
    translation = petition.translations.get(lang or "") if lang != DEFAULT_TEXT_LANGUAGE else None
    if translation:
        return PetitionText(lang or "", **{name: translation[name] for name in TEXT_FIELDS})
    return PetitionText(
        DEFAULT_TEXT_LANGUAGE, petition.title, petition.ask, petition.target, petition.body
    )


def available_languages(petition: Petition) -> list[str]:
    return [DEFAULT_TEXT_LANGUAGE, *sorted(petition.translations)]


def _new_version(session: Session, petition: Petition) -> None:
    assert petition.id is not None
    session.add(
        PetitionVersion(
            petition_id=petition.id,
            number=petition.version,
            content_hash=petition.content_hash,
            title=petition.title,
            ask=petition.ask,
            target=petition.target,
            body=petition.body,
            translations=dict(petition.translations),
        )
    )


@dataclass(frozen=True)
class NewPetition:
    """What a petition is made from: staff's form (a draft) or an entry of the seed file."""

    slug: str
    title: str
    ask: str
    target: str
    body: str
    goal: int
    status: PetitionStatus = PetitionStatus.draft
    milestones: Sequence[int] = ()
    opens_at: dt.datetime | None = None
    closes_at: dt.datetime | None = None
    # Its text in other languages: {"es": {"title", "ask", "target", "body"}}.
    translations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def create_petition(session: Session, new: NewPetition) -> Petition:
    """A new petition with its first version and its count shards."""
    translations = {
        lang: {name: text[name] for name in TEXT_FIELDS} for lang, text in new.translations.items()
    }
    digest = content_hash(new.title, new.ask, new.target, new.body, translations)
    petition = Petition(
        slug=new.slug,
        title=new.title,
        ask=new.ask,
        target=new.target,
        body=new.body,
        status=new.status,
        goal=new.goal,
        milestones=list(new.milestones),
        opens_at=new.opens_at,
        closes_at=new.closes_at,
        version=1,
        content_hash=digest,
        translations=translations,
    )
    session.add(petition)
    session.flush()
    assert petition.id is not None
    _new_version(session, petition)
    session.add_all(
        CountShard(petition_id=petition.id, shard=shard) for shard in range(COUNT_SHARDS)
    )
    session.flush()
    return petition


def petition_not_found(slug: str) -> NotFound:
    """The answer for a slug no public petition has (drafts included: they are not public)."""
    return NotFound(f"No petition with slug '{slug}'.")


def published_petition(session: Session, slug: str) -> Petition:
    """A petition the public may see: drafts answer 404 like unknown slugs."""
    petition = petition_by_slug(session, slug)
    if petition.status == PetitionStatus.draft:
        raise petition_not_found(slug)
    return petition


def _public(petition: Petition, verified: int, lang: str | None) -> PetitionPublic:
    text = petition_text(petition, lang)
    return PetitionPublic(
        slug=petition.slug,
        language=text.language,
        available_languages=available_languages(petition),
        title=text.title,
        ask=text.ask,
        target=text.target,
        body=text.body,
        status=PetitionStatus(petition.status),
        goal=petition.goal,
        milestones=petition.milestones,
        opens_at=petition.opens_at,
        closes_at=petition.closes_at,
        version=VersionPublic(number=petition.version, content_hash=petition.content_hash),
        verified_count=verified,
        progress=min(1.0, verified / petition.goal) if petition.goal > 0 else 0.0,
    )


def list_petitions(
    session: Session, page: PageParams, lang: str | None = None
) -> tuple[list[PetitionPublic], str | None]:
    statement = select(Petition).where(Petition.status != PetitionStatus.draft)
    rows, cursor = paginate(
        session,
        statement,
        [Petition.id],
        page,
        key=lambda p: (p.id,),
    )
    counts = verified_counts(session, [p.id for p in rows if p.id is not None])
    return [_public(p, counts.get(p.id or 0, 0), lang) for p in rows], cursor


def get_petition(session: Session, slug: str, lang: str | None = None) -> PetitionPublic:
    """The petition in `lang` if it has that text, else in English (`language` says which)."""
    petition = published_petition(session, slug)
    assert petition.id is not None
    verified = verified_counts(session, [petition.id]).get(petition.id, 0)
    return _public(petition, verified, lang)


def get_count(session: Session, slug: str) -> CountPublic:
    petition = published_petition(session, slug)
    assert petition.id is not None
    verified = verified_counts(session, [petition.id]).get(petition.id, 0)
    return CountPublic(verified=verified, goal=petition.goal, updated_at=utcnow())


def petition_by_slug(session: Session, slug: str, *, for_update: bool = False) -> Petition:
    """Any petition, drafts included. `for_update` locks its row (PostgreSQL) so concurrent
    edits take turns instead of both making version N+1."""
    statement = select(Petition).where(Petition.slug == slug)
    if for_update:
        statement = statement.with_for_update()
    petition = session.exec(statement).first()
    if petition is None:
        raise petition_not_found(slug)
    return petition


def list_all_petitions(session: Session, page: PageParams) -> tuple[list[Petition], str | None]:
    return paginate(session, select(Petition), [Petition.id], page, key=lambda p: (p.id,))


def petition_versions(session: Session, petition_id: int) -> list[PetitionVersion]:
    return list(
        session.exec(
            select(PetitionVersion)
            .where(PetitionVersion.petition_id == petition_id)
            .order_by(col(PetitionVersion.number))
        ).all()
    )


def petitions_citing_fact(session: Session, fact_id: str) -> list[str]:
    """Slugs of petitions whose text refers to `[fact:ID]`."""
    marker = f"%[fact:{fact_id}]%"
    return list(
        session.exec(
            select(Petition.slug).where(
                or_(
                    col(Petition.body).like(marker),
                    sqlalchemy.cast(col(Petition.translations), sqlalchemy.Text).like(marker),
                )
            )
        ).all()
    )


def update_petition(session: Session, petition: Petition, changes: dict[str, Any]) -> bool:
    """Apply `changes`; a change to the text (title, ask, target, body) makes a new version
    with a new content hash. Signatures already taken keep the version their signer saw.
    Returns whether a new version was made."""
    text_changed = any(
        name in changes and changes[name] != getattr(petition, name)
        for name in (*TEXT_FIELDS, "translations")
    )
    for name, value in changes.items():
        setattr(petition, name, value)
    if text_changed:
        petition.version += 1
        petition.content_hash = _hash_of(petition)
        _new_version(session, petition)
    petition.updated_at = utcnow()
    session.add(petition)
    session.flush()
    return text_changed


def set_petition_text(
    session: Session, petition: Petition, lang: str, text: dict[str, str] | None
) -> bool:
    """Set (or, with None, remove) the petition's text in one language; English is the
    petition's own columns and cannot be removed. Returns whether a new version was made."""
    if lang == DEFAULT_TEXT_LANGUAGE:
        if text is None:
            raise Conflict("The English text is required; it can be changed, not removed.")
        return update_petition(session, petition, text)
    translations = {k: v for k, v in petition.translations.items() if k != lang}
    if text is not None:
        translations[lang] = {name: text[name] for name in TEXT_FIELDS}
    elif lang not in petition.translations:
        raise NotFound(f"The petition '{petition.slug}' has no text in '{lang}'.")
    return update_petition(session, petition, {"translations": translations})


def open_petition(session: Session, petition: Petition) -> None:
    """Draft or closed -> open."""
    if petition.status == PetitionStatus.open:
        raise Conflict(f"The petition '{petition.slug}' is already open.")
    if petition.closes_at is not None and petition.closes_at <= utcnow():
        raise Conflict(
            f"The petition '{petition.slug}' has closes_at {petition.closes_at.isoformat()}, "
            "in the past; change closes_at first."
        )
    petition.status = PetitionStatus.open
    petition.closed_at = None
    petition.updated_at = utcnow()
    session.add(petition)
    session.flush()


def close_petition(session: Session, petition: Petition) -> None:
    """Open -> closed. Retention (`advocacy anonymize`) counts from `closed_at`."""
    if petition.status != PetitionStatus.open:
        raise Conflict(
            f"The petition '{petition.slug}' is {petition.status}; only open ones close."
        )
    now = utcnow()
    petition.status = PetitionStatus.closed
    petition.closed_at = now
    petition.updated_at = now
    session.add(petition)
    session.flush()
