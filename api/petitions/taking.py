"""The petition a signing batch writes to: read once per batch, in one light query.

Signing needs a petition's id, version, status and dates (is it open?), whether signing is
paused, and its title for the confirmation mail. The ORM row carries the whole text (body and
translations, decoded from JSON) and the pause was a second query: together 1.6 ms of the
writer's time per batch, inside SQLite's write lock, against 0.5 ms for this one query
(measured in process, 300 units of work each, BENCHMARKS.md). A title is a pure function of
the petition's text, so titles are kept per process by the text's content hash.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy
from sqlmodel import Session

from api.abuse import service as abuse
from api.db import table_of
from api.errors import PetitionNotOpen
from api.mail import service as mail
from api.petitions.catalog import petition_not_found, petition_text
from api.petitions.models import (
    DEFAULT_TEXT_LANGUAGE,
    Petition,
    PetitionStatus,
    PetitionVersion,
    SigningState,
    signing_state,
)


@dataclass(frozen=True)
class PetitionTakingSignatures:
    id: int
    slug: str
    version: int
    content_hash: str
    status: PetitionStatus
    opens_at: dt.datetime | None
    closes_at: dt.datetime | None


_PETITION = table_of(Petition)
_SLUG: sqlalchemy.BindParameter[str] = sqlalchemy.bindparam("slug")
_LOOKUP = sqlalchemy.select(
    _PETITION.c.id,
    _PETITION.c.slug,
    _PETITION.c.version,
    _PETITION.c.content_hash,
    _PETITION.c.status,
    _PETITION.c.opens_at,
    _PETITION.c.closes_at,
    abuse.longest_pause(_SLUG).label("paused_for"),
).where(_PETITION.c.slug == _SLUG)
_LOOKUP_WITH_RECENT_MAIL = _LOOKUP.add_columns(mail.recent_counts_column())
_CHECKED = "petitions_taking_signatures"


def petition_taking_signatures(
    session: Session, slug: str, now: dt.datetime, recent_mail: mail.RecentMail | None = None
) -> PetitionTakingSignatures:
    """The petition, checked public, open at `now` and not paused: read once per transaction
    (group commit writes the signatures of many requests in one), its dates checked every
    time (the clock moves on within a transaction). `recent_mail` is read in the same query
    when the query runs (it stays unread when the petition was read earlier in the
    transaction): a signing batch then sends one statement fewer inside SQLite's write lock,
    one round trip fewer on PostgreSQL."""
    checked: dict[str, PetitionTakingSignatures] = session.info.setdefault(_CHECKED, {})
    petition = checked.get(slug)
    if petition is not None:
        require_open(petition, now)
        return petition
    statement, parameters = _LOOKUP, {"slug": slug}
    if recent_mail is not None:
        statement = _LOOKUP_WITH_RECENT_MAIL
        parameters = {**parameters, **recent_mail.parameters()}
    row = session.connection().execute(statement, parameters).one_or_none()
    if recent_mail is not None and row is not None:
        recent_mail.read(row.recent_mail)
    if row is None or row.status == PetitionStatus.draft:
        raise petition_not_found(slug)
    petition = PetitionTakingSignatures(
        id=row.id,
        slug=row.slug,
        version=row.version,
        content_hash=row.content_hash,
        status=row.status,
        opens_at=row.opens_at,
        closes_at=row.closes_at,
    )
    require_open(petition, now)
    abuse.refuse_if_paused(row.paused_for)
    checked[slug] = petition
    return petition


def require_open(petition: PetitionTakingSignatures, now: dt.datetime) -> None:
    state = signing_state(petition.status, petition.opens_at, petition.closes_at, now)
    if state is SigningState.open:
        return
    if petition.status != PetitionStatus.open:
        raise PetitionNotOpen(
            f"The petition '{petition.slug}' is {petition.status}; it takes no signatures."
        )
    # Not open by its dates: signing_state found the window's edge that was passed.
    verb, when = (
        ("opens", petition.opens_at)
        if state is SigningState.not_yet_open
        else ("closed", petition.closes_at)
    )
    assert when is not None
    raise PetitionNotOpen(f"The petition '{petition.slug}' {verb} at {when.isoformat()}.")


# Content hash -> {language: title}. Bounded: a petition gets a new hash only when staff edit
# its text.
_TITLES: dict[str, dict[str, str]] = {}
_TITLES_KEPT = 256


def title_of(session: Session, petition: PetitionTakingSignatures, language: str) -> str:
    """catalog.petition_text's title in `language`, for the version being signed."""
    titles = _TITLES.get(petition.content_hash)
    if titles is None:
        text = session.get(PetitionVersion, (petition.id, petition.version)) or session.get(
            Petition, petition.id
        )
        assert text is not None
        titles = {
            lang: petition_text(text, lang).title
            for lang in (DEFAULT_TEXT_LANGUAGE, *text.translations)
        }
        if text.content_hash == petition.content_hash:
            if len(_TITLES) >= _TITLES_KEPT:
                _TITLES.clear()
            _TITLES[petition.content_hash] = titles
    return titles.get(language, titles[DEFAULT_TEXT_LANGUAGE])
