"""What the emailed links do: confirm a signature, or withdraw it and erase its personal data."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy
from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from api.batchwork import Batchable
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


_LINK_COLUMNS = (
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
)
_LINK = _LINK_COLUMNS.where(_TOKEN.c.token_hash == sqlalchemy.bindparam("digest"))
# A batch's links, their signatures locked until its commit, so what is read of them stays
# true until then: another instance's confirmation, withdrawal, strike or release of one of
# them waits, or is waited for and then seen. In id order, so two runs of confirmations never
# deadlock on each other's rows. As strong as the UPDATE's own lock (FOR NO KEY UPDATE):
# rows that name a signature (its links, its mails) can still be added meanwhile. SQLite has
# no FOR UPDATE and needs none: one writer at a time.
_LINKS = (
    _LINK_COLUMNS.where(_TOKEN.c.token_hash.in_(sqlalchemy.bindparam("digests", expanding=True)))
    .order_by(_SIGNATURE.c.id)
    .with_for_update(of=_SIGNATURE, key_share=True)
)


# One statement for every confirmation of a batch (of one state), by id. The links were read
# with their signatures locked, so none moved since: every row named moves (the count is
# checked), and of several concurrent confirmations of one signature only the first counts
# it. By id and nothing else: with the state as a condition too, SQLite's planner (no
# statistics) and PostgreSQL's (without statistics on the table) searched the (status,
# created_at) index instead, reading every pending signature for each batch: the confirm
# scenario fell as pending signatures grew.
_BY_ID = _SIGNATURE.c.id.in_(sqlalchemy.bindparam("signature_ids", expanding=True))
_NOW = sqlalchemy.bindparam("now", type_=UtcDateTime)
_CONFIRM_PENDING = (
    sqlalchemy.update(_SIGNATURE)
    .where(_BY_ID)
    .values(status=SignatureStatus.confirmed, confirmed_at=_NOW)
)
_CONFIRM_HELD = sqlalchemy.update(_SIGNATURE).where(_BY_ID).values(confirmed_at=_NOW)


_STATE_FOR_UPDATE = (
    sqlalchemy.select(_SIGNATURE.c.status)
    .where(_SIGNATURE.c.id == sqlalchemy.bindparam("id"))
    .with_for_update(key_share=True)
)


_MARK_TOKENS_USED = (
    sqlalchemy.update(_TOKEN)
    .where(_TOKEN.c.token_hash.in_(sqlalchemy.bindparam("digests", expanding=True)))
    .values(used_at=sqlalchemy.bindparam("now", type_=UtcDateTime))
)


def _link(session: Session, token: str, purpose: TokenPurpose) -> Any:
    """The emailed link's token with its signature's id, status and petition (one query)."""
    link = session.connection().execute(_LINK, {"digest": token_hash(token)}).first()
    if link is None or link.purpose != purpose:
        raise NotFound(UNKNOWN_LINK)
    return link


UNKNOWN_LINK = "This link is not known. Check that it was copied whole."


def confirm(session: Session, token: str) -> ConfirmResult:
    """Count a pending signature. Confirming twice is harmless. A held signature is marked
    confirmed (`confirmed_at`) but counts only once staff release it."""
    outcome = confirm_many(session, [token])[0]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def confirm_many(session: Session, tokens: list[str]) -> list[ConfirmResult | BaseException]:
    """`confirm` for many links in one transaction, in order, with one statement per step for
    all of them (group commit hands the confirmations that arrived together here): one query
    for the links, one update each for pending and held signatures, one for the tokens, one
    count update per petition. Each link keeps its own outcome."""
    digests = [token_hash(token) for token in tokens]
    links = {
        link.token_hash: link
        for link in session.connection().execute(_LINKS, {"digests": list(set(digests))})
    }
    now = utcnow()
    outcomes: list[ConfirmResult | BaseException | None] = [None] * len(tokens)
    moving: list[tuple[int, Any]] = []  # (index, link) of those that may move their signature
    for index, digest in enumerate(digests):
        link = links.get(digest)
        if link is None or link.purpose != TokenPurpose.confirm:
            outcomes[index] = NotFound(UNKNOWN_LINK)
            continue
        held = link.status == SignatureStatus.held
        if link.status == SignatureStatus.confirmed or (held and link.confirmed_at):
            outcomes[index] = ConfirmResult(status="already_confirmed", petition_slug=link.slug)
        elif link.status != SignatureStatus.pending and not held:
            outcomes[index] = Gone(
                "This signature was withdrawn or removed; the link no longer works."
            )
        elif link.used_at is not None or (link.expires_at is not None and link.expires_at <= now):
            outcomes[index] = Gone(
                "This confirmation link has expired. Sign again to get a new one."
            )
        else:
            moving.append((index, link))
    if moving:
        _confirm_moving(session, moving, outcomes, now)
    assert all(outcome is not None for outcome in outcomes)
    return [outcome for outcome in outcomes if outcome is not None]


def _confirm_moving(
    session: Session,
    moving: list[tuple[int, Any]],
    outcomes: list[ConfirmResult | BaseException | None],
    now: dt.datetime,
) -> None:
    """Move the signatures of the links that passed every check, and say what each did."""

    connection = session.connection()
    for status, statement in (
        (SignatureStatus.pending, _CONFIRM_PENDING),
        (SignatureStatus.held, _CONFIRM_HELD),
    ):
        ids = list({link.signature_id for _, link in moving if link.status == status})
        if not ids:
            continue
        changed = connection.execute(statement, {"signature_ids": ids, "now": now}).rowcount
        if changed != len(ids):  # cannot happen with the rows locked; undo the batch if it did
            raise RuntimeError(f"{changed} of {len(ids)} {status} signatures confirmed")
    connection.execute(
        _MARK_TOKENS_USED, {"digests": list({link.token_hash for _, link in moving}), "now": now}
    )
    counted: dict[int, int] = {}
    done: set[int] = set()
    for index, link in moving:
        slug = link.slug
        if link.signature_id in done:  # a second link to it in this batch: already done
            outcomes[index] = ConfirmResult(status="already_confirmed", petition_slug=slug)
            continue
        done.add(link.signature_id)
        if link.status == SignatureStatus.held:
            outcomes[index] = ConfirmResult(status="held_for_review", petition_slug=slug)
            continue
        counted[link.petition_id] = counted.get(link.petition_id, 0) + 1
        outcomes[index] = ConfirmResult(status="confirmed", petition_slug=slug)
    for petition_id, delta in counted.items():
        add_to_count(session, petition_id, delta)


CONFIRMING: Batchable[str, ConfirmResult] = Batchable("confirming", one=confirm, many=confirm_many)


def withdraw(session: Session, token: str) -> WithdrawResult:
    """Take a signature out of every count and erase its personal data, keeping an anonymous
    record (petition, version, state, country, times)."""
    link = _link(session, token, TokenPurpose.withdraw)
    withdrawn = withdraw_signature(
        session, link.signature_id, link.petition_id, keep_token=link.token_hash
    )
    return WithdrawResult(
        status="withdrawn" if withdrawn else "already_withdrawn", petition_slug=link.slug
    )


def withdraw_signature(
    session: Session, signature_id: int, petition_id: int, keep_token: str | None
) -> bool:
    """Withdraw and erase; False if it was already withdrawn.

    The signature's state is read with its row locked (as confirming reads it), so a
    confirmation, strike or release of it running at the same moment elsewhere is waited for
    and then seen: a withdrawal never misses a signature that was being confirmed, and never
    leaves it counted with its personal data kept."""
    status = session.connection().execute(_STATE_FOR_UPDATE, {"id": signature_id}).scalar()
    if status is None or status == SignatureStatus.withdrawn:
        return False
    if status == SignatureStatus.struck:
        raise Gone("This signature was removed by moderators; there is nothing to withdraw.")
    now = utcnow()
    erase_idempotency_records(
        session, select(Signature.email_hash).where(col(Signature.id) == signature_id)
    )
    session.exec(
        update(Signature)
        .where(col(Signature.id) == signature_id)
        .values(status=SignatureStatus.withdrawn, withdrawn_at=now, **ERASED_FIELDS)
    )
    if status == SignatureStatus.confirmed:
        add_to_count(session, petition_id, -1)
    # Keep only the link used, so clicking it again says "already withdrawn".
    session.exec(
        delete(SignatureToken).where(
            col(SignatureToken.signature_id) == signature_id,
            col(SignatureToken.token_hash) != (keep_token or ""),
        )
    )
    if keep_token is not None:
        session.connection().execute(_MARK_TOKENS_USED, {"digests": [keep_token], "now": now})
    mail.erase_for_signature(session, signature_id)
    return True
