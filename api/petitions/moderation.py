"""Staff moderating signatures: finding them, striking them out of every count, and releasing
those held for review."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from api.errors import NotFound
from api.pagination import PageParams, paginate
from api.petitions.counts import add_to_count
from api.petitions.models import Signature, SignatureStatus


@dataclass(frozen=True)
class SignatureFilters:
    """Criteria combined with AND. `email_hash` is the keyed hash of the canonical email."""

    signature_id: int | None = None
    petition_id: int | None = None
    status: SignatureStatus | None = None
    signed_from: dt.datetime | None = None  # inclusive, on created_at
    signed_to: dt.datetime | None = None  # exclusive
    email_hash: str | None = None
    email_domain: str | None = None
    ip_hash: str | None = None
    postal_code: str | None = None


def _signature_conditions(filters: SignatureFilters) -> list[Any]:
    conditions: list[Any] = []
    if filters.signature_id is not None:
        conditions.append(col(Signature.id) == filters.signature_id)
    if filters.petition_id is not None:
        conditions.append(col(Signature.petition_id) == filters.petition_id)
    if filters.status is not None:
        conditions.append(col(Signature.status) == filters.status)
    if filters.signed_from is not None:
        conditions.append(col(Signature.created_at) >= filters.signed_from)
    if filters.signed_to is not None:
        conditions.append(col(Signature.created_at) < filters.signed_to)
    if filters.email_hash is not None:
        conditions.append(col(Signature.email_hash) == filters.email_hash)
    if filters.email_domain is not None:
        escaped = filters.email_domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(func.lower(col(Signature.email)).like(f"%@{escaped}", escape="\\"))
    if filters.ip_hash is not None:
        conditions.append(col(Signature.ip_hash) == filters.ip_hash)
    if filters.postal_code is not None:
        # A ZIP matches its ZIP+4 forms too.
        conditions.append(
            or_(
                col(Signature.postal_code) == filters.postal_code,
                col(Signature.postal_code).startswith(filters.postal_code + "-", autoescape=True),
            )
        )
    return conditions


def search_signatures(
    session: Session, filters: SignatureFilters, page: PageParams
) -> tuple[list[Signature], str | None]:
    """Newest first."""
    statement = select(Signature).where(*_signature_conditions(filters))
    return paginate(
        session, statement, [Signature.id], page, key=lambda s: (s.id,), descending=True
    )


def get_signature(session: Session, signature_id: int) -> Signature:
    signature = session.get(Signature, signature_id)
    if signature is None:
        raise NotFound(f"No signature with id {signature_id}.")
    return signature


STRIKABLE = (SignatureStatus.pending, SignatureStatus.held, SignatureStatus.confirmed)


def count_strikable(session: Session, filters: SignatureFilters) -> dict[str, int]:
    """How many signatures a strike with `filters` would take, by their current status."""
    rows = session.exec(
        select(Signature.status, func.count())
        .where(
            *_signature_conditions(filters),
            col(Signature.status).in_(STRIKABLE),
        )
        .group_by(col(Signature.status))
    ).all()
    counts = {status.value: 0 for status in STRIKABLE}
    counts.update({status: int(n) for status, n in rows})
    return counts


@dataclass
class StrikeOutcome:
    signature_ids: list[int]
    by_status: dict[str, int]  # how many were pending / confirmed before the strike


def strike_signatures(session: Session, filters: SignatureFilters) -> StrikeOutcome:
    """Mark matching pending and confirmed signatures `struck`: they leave every count (a
    confirmed one comes off its petition's sharded count), and the signer can neither confirm
    nor sign that petition again with the same email. Personal data stays, for review, until
    retention erases it.

    Bulk UPDATE ... RETURNING, so each row moves exactly once even if it is being confirmed
    at the same moment: pending ones first, then confirmed ones, so a signature confirmed in
    between is caught by the second statement and uncounted.
    """
    conditions = _signature_conditions(filters)
    outcome = StrikeOutcome(signature_ids=[], by_status={s.value: 0 for s in STRIKABLE})
    uncount: dict[int, int] = {}
    for status in STRIKABLE:
        moved = session.exec(
            update(Signature)
            .where(*conditions, col(Signature.status) == status)
            .values(status=SignatureStatus.struck)
            .returning(col(Signature.id), col(Signature.petition_id))
            .execution_options(synchronize_session="fetch")
        ).all()
        outcome.by_status[status.value] = len(moved)
        for signature_id, petition_id in moved:
            outcome.signature_ids.append(signature_id)
            if status is SignatureStatus.confirmed:
                uncount[petition_id] = uncount.get(petition_id, 0) + 1
    for petition_id, n in uncount.items():
        add_to_count(session, petition_id, -n)
    outcome.signature_ids.sort()
    return outcome


@dataclass
class ReleaseOutcome:
    signature_ids: list[int]
    counted: int  # of those, confirmed by their signers: they now count


def release_signatures(session: Session, filters: SignatureFilters) -> ReleaseOutcome:
    """Release matching held signatures: one its signer confirmed becomes `confirmed` and
    counts; one not confirmed yet becomes `pending` and counts when it is.

    The unconfirmed ones move first: a signer confirming in between leaves theirs held with
    `confirmed_at` set, which the second statement then releases and counts.
    """
    conditions = [
        *_signature_conditions(filters),
        col(Signature.status) == SignatureStatus.held,
    ]
    unconfirmed = session.exec(
        update(Signature)
        .where(*conditions, col(Signature.confirmed_at).is_(None))
        .values(status=SignatureStatus.pending)
        .returning(col(Signature.id))
        .execution_options(synchronize_session="fetch")
    ).all()
    confirmed = session.exec(
        update(Signature)
        .where(*conditions, col(Signature.confirmed_at).is_not(None))
        .values(status=SignatureStatus.confirmed)
        .returning(col(Signature.id), col(Signature.petition_id))
        .execution_options(synchronize_session="fetch")
    ).all()
    counted: dict[int, int] = {}
    for _, petition_id in confirmed:
        counted[petition_id] = counted.get(petition_id, 0) + 1
    for petition_id, n in counted.items():
        add_to_count(session, petition_id, n)
    ids = sorted([row[0] for row in unconfirmed] + [row[0] for row in confirmed])
    return ReleaseOutcome(signature_ids=ids, counted=len(confirmed))


def count_held(session: Session, filters: SignatureFilters) -> tuple[int, int]:
    """How many held signatures match `filters`, and how many of them are confirmed."""
    rows = session.exec(
        select(col(Signature.confirmed_at).is_not(None), func.count())
        .where(*_signature_conditions(filters), col(Signature.status) == SignatureStatus.held)
        .group_by(col(Signature.confirmed_at).is_not(None))
    ).all()
    by_confirmed = {bool(confirmed): int(n) for confirmed, n in rows}
    return sum(by_confirmed.values()), by_confirmed.get(True, 0)
