"""Queue mail in the caller's transaction; claim, and settle, mail for the worker."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, or_, update
from sqlmodel import Session, col, select

from api.db import table_of, utcnow
from api.mail.models import MailMessage, MailStatus

LEASE = dt.timedelta(seconds=120)
MAX_ATTEMPTS = 50
MAX_BACKOFF_SECONDS = 600


@dataclass(frozen=True)
class ClaimedMail:
    id: int
    template: str
    locale: str
    to_address: str
    payload: dict[str, Any]
    attempts: int


def enqueue(
    session: Session,
    *,
    template: str,
    locale: str,
    to_address: str,
    payload: dict[str, Any],
    signature_id: int | None = None,
) -> None:
    """Add a mail to the outbox. It is sent only if the caller's transaction commits."""
    now = utcnow()
    # A Core insert, not a MailMessage object: it is run for every signature, and the ORM's
    # object and flush cost more than the statement. So the model's defaults are given here.
    session.connection().execute(
        _MAIL_INSERT,
        {
            "template": template,
            "locale": locale,
            "to_address": to_address,
            "payload": payload,
            "signature_id": signature_id,
            "status": MailStatus.pending.value,
            "attempts": 0,
            "next_attempt_at": now,
            "lease_until": None,
            "created_at": now,
            "sent_at": None,
            "last_error": None,
        },
    )


_MAIL_INSERT = insert(table_of(MailMessage))


def claim_due(session: Session, limit: int) -> list[ClaimedMail]:
    """Lease up to `limit` due mails to this worker.

    On PostgreSQL rows are picked with FOR UPDATE SKIP LOCKED, so concurrent workers never
    claim the same mail; on SQLite the write transaction (BEGIN IMMEDIATE) serialises claims.
    A lease that runs out (a worker died mid-send) makes the mail due again.
    """
    now = utcnow()
    due = (
        select(MailMessage.id)
        .where(
            MailMessage.status == MailStatus.pending.value,
            col(MailMessage.next_attempt_at) <= now,
            or_(col(MailMessage.lease_until).is_(None), col(MailMessage.lease_until) < now),
        )
        .order_by(col(MailMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.exec(due))
    if not ids:
        return []
    session.exec(
        update(MailMessage)
        .where(col(MailMessage.id).in_(ids))
        .values(lease_until=now + LEASE, attempts=MailMessage.attempts + 1)
    )
    rows = session.exec(select(MailMessage).where(col(MailMessage.id).in_(ids)))
    return [
        ClaimedMail(
            id=row.id or 0,
            template=row.template,
            locale=row.locale,
            to_address=row.to_address or "",
            payload=row.payload or {},
            attempts=row.attempts,
        )
        for row in rows
    ]


def mark_sent(session: Session, mail_ids: list[int]) -> None:
    """Sent mail keeps no recipient and no links."""
    if not mail_ids:
        return
    session.exec(
        update(MailMessage)
        .where(col(MailMessage.id).in_(mail_ids))
        .values(
            status=MailStatus.sent.value,
            sent_at=utcnow(),
            lease_until=None,
            to_address=None,
            payload=None,
            last_error=None,
        )
    )


def mark_failed(session: Session, mail: ClaimedMail, error: str) -> None:
    """Retry later with exponential backoff; give up after MAX_ATTEMPTS."""
    backoff = min(2 ** min(mail.attempts, 20), MAX_BACKOFF_SECONDS)
    gave_up = mail.attempts >= MAX_ATTEMPTS
    session.exec(
        update(MailMessage)
        .where(col(MailMessage.id) == mail.id)
        .values(
            status=MailStatus.failed.value if gave_up else MailStatus.pending.value,
            next_attempt_at=utcnow() + dt.timedelta(seconds=backoff),
            lease_until=None,
            last_error=error[:300],
        )
    )


def erase_for_signature(session: Session, signature_id: int) -> None:
    """Forget a signer's mail: unsent mail is dropped, sent mail keeps no address."""
    session.exec(
        delete(MailMessage).where(
            col(MailMessage.signature_id) == signature_id,
            col(MailMessage.status) != MailStatus.sent.value,
        )
    )
    session.exec(
        update(MailMessage)
        .where(col(MailMessage.signature_id) == signature_id)
        .values(to_address=None, payload=None)
    )
