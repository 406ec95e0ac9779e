"""The transactional outbox: mail rows are written in the same transaction as the signature
that causes them, and a worker sends them."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from api.db import UtcDateTime, utcnow


class MailStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # gave up after MAX_ATTEMPTS
    skipped = "skipped"  # nothing to send after all (an access request for an unknown address)


class MailMessage(SQLModel, table=True):
    __tablename__ = "mail_message"
    __table_args__ = (
        # The worker's claim reads due mail in this order (api.mail.service.claim_due).
        Index("ix_mail_message_due", "status", "next_attempt_at", "id"),
        Index("ix_mail_message_recipient", "recipient_hash", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    template: str = Field(max_length=40)
    locale: str = Field(max_length=5)
    # The recipient and the links are erased once the mail is sent.
    to_address: str | None = Field(default=None, max_length=320)
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The keyed hash of the recipient's canonical address (the signature's email_hash): the
    # per-recipient cap counts by it. Kept only as long as the cap's window needs it.
    recipient_hash: str | None = Field(default=None, max_length=64)
    signature_id: int | None = Field(
        default=None, foreign_key="signature.id", index=True, ondelete="SET NULL"
    )
    status: str = Field(default=MailStatus.pending.value, max_length=10)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    lease_until: dt.datetime | None = Field(sa_type=UtcDateTime, default=None, nullable=True)
    created_at: dt.datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    sent_at: dt.datetime | None = Field(sa_type=UtcDateTime, default=None, nullable=True)
    last_error: str | None = Field(default=None, max_length=300)
