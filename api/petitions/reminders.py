"""One reminder to signers who have not confirmed, run by the mail worker (api/housekeeping.py).

A signature is due its reminder REMINDER_AFTER_HOURS after it was taken, while it is pending
(or held) and unconfirmed, on an open petition, within the week its first link lasts, and
while it is under the cap of EMAILS_PER_SIGNATURE mails (a repeat signing's reminder counts
too). `reminded_at` records it: the worker claims due rows with FOR UPDATE SKIP LOCKED
(PostgreSQL; SQLite serialises writers) and a conditional UPDATE, so with several workers each
signature is reminded once.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy
from sqlalchemy import update
from sqlmodel import Session, col, select

from api.db import utcnow
from api.petitions.catalog import petition_text
from api.petitions.letters import CONFIRM_TOKEN_LIFETIME, Letter, queue_letters
from api.petitions.models import Petition, PetitionStatus, Signature, SignatureStatus
from api.petitions.signing import EMAILS_PER_SIGNATURE, SigningContext

BATCH_SIZE = 200
UNCONFIRMED = [SignatureStatus.pending.value, SignatureStatus.held.value]


def _due(now: dt.datetime, after: dt.timedelta) -> list[sqlalchemy.ColumnElement[bool]]:
    return [
        col(Signature.status).in_(UNCONFIRMED),
        col(Signature.confirmed_at).is_(None),
        col(Signature.reminded_at).is_(None),
        col(Signature.email).is_not(None),
        col(Signature.emails_sent) < EMAILS_PER_SIGNATURE,
        col(Signature.created_at) <= now - after,
        # A signer who let the first link lapse unanswered is not written to again.
        col(Signature.created_at) > now - CONFIRM_TOKEN_LIFETIME,
    ]


def send_due_reminders(
    session: Session, context: SigningContext, after: dt.timedelta, limit: int = BATCH_SIZE
) -> int:
    """Queue (in the caller's transaction) the reminders of up to `limit` due signatures;
    returns how many."""
    now = utcnow()
    candidates = session.exec(
        select(Signature.id)
        .join(Petition, col(Petition.id) == col(Signature.petition_id))
        .where(*_due(now, after), col(Petition.status) == PetitionStatus.open.value)
        .order_by(col(Signature.id))
        .limit(limit)
        .with_for_update(skip_locked=True, of=Signature)
    ).all()
    if not candidates:
        return 0
    # Conditional: a row another worker reminded meanwhile no longer matches.
    claimed = session.exec(
        update(Signature)
        .where(col(Signature.id).in_(candidates), *_due(now, after))
        .values(reminded_at=now, emails_sent=Signature.emails_sent + 1)
        .returning(
            col(Signature.id),
            col(Signature.petition_id),
            col(Signature.email),
            col(Signature.email_hash),
            col(Signature.first_name),
            col(Signature.locale),
        )
        .execution_options(synchronize_session=False)
    ).all()
    petitions = {
        petition.id: petition
        for petition in session.exec(
            select(Petition).where(col(Petition.id).in_({row[1] for row in claimed}))
        )
    }
    letters = [
        Letter(
            petition_text(petitions[petition_id], locale).title,
            signature_id,
            email,
            email_hash,
            first_name or "",
            locale,
            "reminder",
            context.public_base_url,
            context.recipient_limit,
        )
        for signature_id, petition_id, email, email_hash, first_name, locale in claimed
    ]
    queue_letters(session, letters)
    return len(claimed)
