"""What the emailed links do: confirm a signature, or withdraw it and erase its personal data."""

from __future__ import annotations

from typing import Any

import sqlalchemy
from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from api.db import UtcDateTime, table_of, utcnow
from api.errors import Gone, NotFound
from api.housekeeping import ERASED_FIELDS, erase_idempotency_records
from api.mail import service as mail
from api.petitions.counts import add_to_count
from api.petitions.models import Petition, Signature, SignatureStatus, SignatureToken, TokenPurpose
from api.petitions.schemas import ConfirmResult, WithdrawResult
from api.security import token_hash

_SIGNATURE = table_of(Signature)

_TOKEN = table_of(SignatureToken)

_PETITION = table_of(Petition)


_LINK = (
    sqlalchemy.select(
        _TOKEN.c.token_hash,
        _TOKEN.c.purpose,
        _TOKEN.c.expires_at,
        _TOKEN.c.used_at,
        _SIGNATURE.c.id.label("signature_id"),
        _SIGNATURE.c.status,
        _SIGNATURE.c.confirmed_at,
        _SIGNATURE.c.petition_id,
        _PETITION.c.slug,
    )
    .join_from(_TOKEN, _SIGNATURE, _SIGNATURE.c.id == _TOKEN.c.signature_id)
    .join(_PETITION, _PETITION.c.id == _SIGNATURE.c.petition_id)
    .where(_TOKEN.c.token_hash == sqlalchemy.bindparam("digest"))
)


_CONFIRM_PENDING = (
    sqlalchemy.update(_SIGNATURE)
    .where(
        _SIGNATURE.c.id == sqlalchemy.bindparam("signature_id"),
        _SIGNATURE.c.status == SignatureStatus.pending,
    )
    .values(
        status=SignatureStatus.confirmed,
        confirmed_at=sqlalchemy.bindparam("now", type_=UtcDateTime),
    )
)


_CONFIRM_HELD = (
    sqlalchemy.update(_SIGNATURE)
    .where(
        _SIGNATURE.c.id == sqlalchemy.bindparam("signature_id"),
        _SIGNATURE.c.status == SignatureStatus.held,
        _SIGNATURE.c.confirmed_at.is_(None),
    )
    .values(confirmed_at=sqlalchemy.bindparam("now", type_=UtcDateTime))
)


_MARK_TOKEN_USED = (
    sqlalchemy.update(_TOKEN)
    .where(_TOKEN.c.token_hash == sqlalchemy.bindparam("digest"))
    .values(used_at=sqlalchemy.bindparam("now", type_=UtcDateTime))
)


def _link(session: Session, token: str, purpose: TokenPurpose) -> Any:
    """The emailed link's token with its signature's id, status and petition (one query)."""
    link = session.connection().execute(_LINK, {"digest": token_hash(token)}).first()
    if link is None or link.purpose != purpose:
        raise NotFound("This link is not known. Check that it was copied whole.")
    return link


def confirm(session: Session, token: str) -> ConfirmResult:
    """Count a pending signature. Confirming twice is harmless. A held signature is marked
    confirmed (`confirmed_at`) but counts only once staff release it."""
    link = _link(session, token, TokenPurpose.confirm)
    slug = link.slug
    held = link.status == SignatureStatus.held
    if link.status == SignatureStatus.confirmed or (held and link.confirmed_at):
        return ConfirmResult(status="already_confirmed", petition_slug=slug)
    if link.status != SignatureStatus.pending and not held:
        raise Gone("This signature was withdrawn or removed; the link no longer works.")
    now = utcnow()
    if link.used_at is not None or (link.expires_at is not None and link.expires_at <= now):
        raise Gone("This confirmation link has expired. Sign again to get a new one.")
    connection = session.connection()
    # Only one of several concurrent confirmations moves it from pending, so it counts once.
    moved = connection.execute(
        _CONFIRM_HELD if held else _CONFIRM_PENDING,
        {"signature_id": link.signature_id, "now": now},
    ).rowcount
    connection.execute(_MARK_TOKEN_USED, {"digest": link.token_hash, "now": now})
    if not moved:
        return ConfirmResult(status="already_confirmed", petition_slug=slug)
    if held:
        return ConfirmResult(status="held_for_review", petition_slug=slug)
    add_to_count(session, link.petition_id, +1)
    return ConfirmResult(status="confirmed", petition_slug=slug)


def withdraw(session: Session, token: str) -> WithdrawResult:
    """Take a signature out of every count and erase its personal data, keeping an anonymous
    record (petition, version, state, country, times)."""
    link = _link(session, token, TokenPurpose.withdraw)
    withdrawn = withdraw_signature(
        session, link.signature_id, link.status, link.petition_id, keep_token=link.token_hash
    )
    return WithdrawResult(
        status="withdrawn" if withdrawn else "already_withdrawn", petition_slug=link.slug
    )


def withdraw_signature(
    session: Session, signature_id: int, status: str, petition_id: int, keep_token: str | None
) -> bool:
    """Withdraw and erase; False if it was already withdrawn."""
    if status == SignatureStatus.withdrawn:
        return False
    if status == SignatureStatus.struck:
        raise Gone("This signature was removed by moderators; there is nothing to withdraw.")
    now = utcnow()
    erase_idempotency_records(
        session, select(Signature.email_hash).where(col(Signature.id) == signature_id)
    )
    for moving_from in (SignatureStatus.confirmed, SignatureStatus.pending, SignatureStatus.held):
        moved = session.exec(
            update(Signature)
            .where(col(Signature.id) == signature_id, col(Signature.status) == moving_from)
            .values(status=SignatureStatus.withdrawn, withdrawn_at=now, **ERASED_FIELDS)
        ).rowcount
        if moved:
            if moving_from is SignatureStatus.confirmed:
                add_to_count(session, petition_id, -1)
            break
    else:
        return False  # a concurrent withdrawal won
    # Keep only the link used, so clicking it again says "already withdrawn".
    session.exec(
        delete(SignatureToken).where(
            col(SignatureToken.signature_id) == signature_id,
            col(SignatureToken.token_hash) != (keep_token or ""),
        )
    )
    if keep_token is not None:
        session.connection().execute(_MARK_TOKEN_USED, {"digest": keep_token, "now": now})
    mail.erase_for_signature(session, signature_id)
    return True
