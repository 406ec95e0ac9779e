"""The mail worker's chores: daily, retention (erase signers' data of long-closed petitions),
expired records and recipients' hashes the mail cap no longer needs; every minute, the one
reminder to signers who have not confirmed. The purges that cross domains are here too: what
erasing a signer's personal data takes, for retention and for a withdrawal alike."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from api.abuse.models import AccessToken, IdempotencyRecord
from api.config import Settings
from api.db import Database, utcnow
from api.mail.service import RecipientLimit, forget_recipients
from api.petitions.models import Petition, PetitionStatus, Signature, SignatureToken
from api.petitions.reminders import send_due_reminders
from api.petitions.signing import SigningContext

logger = logging.getLogger(__name__)


def run_housekeeping(database: Database, settings: Settings) -> int:
    with database.session(write=True) as session:
        erased = anonymize_closed(session, settings.retention_days)
        forget_recipients(session, RecipientLimit.parse(settings.mail_recipient_limit).window)
    logger.info("retention: erased personal data of %d signatures", erased)
    return erased


def send_reminders(database: Database, settings: Settings) -> int:
    """Queue the reminder of every signature due one (REMINDER_AFTER_HOURS; 0 sends none).
    Safe with any number of workers: each signature is claimed once."""
    if settings.reminder_after_hours <= 0:
        return 0
    context = SigningContext(
        secret=settings.secret(), public_base_url=settings.public_base_url, client_ip=None
    )
    with database.session(write=True) as session:
        queued = send_due_reminders(
            session, context, dt.timedelta(hours=settings.reminder_after_hours)
        )
    if queued:
        logger.info("reminders: queued %d", queued)
    return queued


# --- erasing signers' personal data -------------------------------------------------------


ERASED_FIELDS: dict[str, Any] = {
    "email": None,
    "email_hash": None,
    "first_name": None,
    "last_name": None,
    "postal_code": None,
    "comment": None,
    "ip_hash": None,
    "county": None,
    "display_publicly": False,
    "contact_opt_in": False,
}


def erase_idempotency_records(session: Session, email_hashes: Any) -> None:
    """Stored answers to requests made for these signers go with their personal data."""
    session.exec(
        delete(IdempotencyRecord).where(col(IdempotencyRecord.subject_hash).in_(email_hashes))
    )


def anonymize_closed(session: Session, retention_days: int) -> int:
    """Erase personal data of signatures on petitions closed more than `retention_days` ago.

    Statuses stay as they are, so counts and stats are unchanged. Returns how many signatures
    were erased.
    """
    cutoff = utcnow() - dt.timedelta(days=retention_days)
    closed = select(Petition.id).where(
        Petition.status == PetitionStatus.closed,
        col(Petition.closed_at).is_not(None),
        col(Petition.closed_at) < cutoff,
    )
    erased = {k: v for k, v in ERASED_FIELDS.items() if k not in ("display_publicly",)}
    erase_idempotency_records(
        session,
        select(Signature.email_hash).where(
            col(Signature.petition_id).in_(closed), col(Signature.email_hash).is_not(None)
        ),
    )
    result = session.exec(
        update(Signature)
        .where(col(Signature.petition_id).in_(closed), col(Signature.email_hash).is_not(None))
        .values(**erased)
    )
    session.exec(
        delete(SignatureToken).where(
            col(SignatureToken.signature_id).in_(
                select(Signature.id).where(col(Signature.petition_id).in_(closed))
            )
        )
    )
    now = utcnow()
    session.exec(delete(AccessToken).where(col(AccessToken.expires_at) <= now))
    session.exec(delete(IdempotencyRecord).where(col(IdempotencyRecord.expires_at) <= now))
    return int(result.rowcount or 0)
