"""Petition and signature tables and the enums their columns hold (requests and responses are
in api/petitions/schemas.py).

Signatures are insert-only rows; counts live in sharded counter rows (`CountShard`) so no single
row is updated by every confirmation (the hot row that took UK e-petitions down).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Dialect, Index, String, UniqueConstraint, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from api.db import UtcDateTime, utcnow
from api.fields import SLUG_MAX
from api.petitions.validation import COMMENT_MAX, NAME_MAX, POSTAL_CODE_MAX

COUNT_SHARDS = 16
# Where a shared link was shared (`?ref=` on it). Anything else is recorded as no referral.
REFERRAL_CHANNELS = ("whatsapp", "facebook", "x", "email", "copy", "share", "qr")
REFERRAL_MAX = 16


class PetitionStatus(StrEnum):
    draft = "draft"
    open = "open"
    closed = "closed"


class SigningState(StrEnum):
    """Whether a petition takes signatures now: the one rule the API and the page share."""

    open = "open"
    not_yet_open = "not_yet_open"
    closed = "closed"


def signing_state(
    status: str, opens_at: dt.datetime | None, closes_at: dt.datetime | None, now: dt.datetime
) -> SigningState:
    if status != PetitionStatus.open:
        return SigningState.closed
    if opens_at is not None and now < opens_at:
        return SigningState.not_yet_open
    if closes_at is not None and now >= closes_at:
        return SigningState.closed
    return SigningState.open


class SignatureStatus(StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    # Taken while its address was past its allowance (api/abuse/deps.py): it confirms like a
    # pending one (confirmed_at set) but counts only once staff release it.
    held = "held"
    withdrawn = "withdrawn"
    struck = "struck"


class TokenPurpose(StrEnum):
    confirm = "confirm"
    withdraw = "withdraw"


class StrEnumText(TypeDecorator[StrEnum]):
    """A StrEnum column stored as VARCHAR(length), as the migrations made it (no database enum
    type, no constraint): rows read back as members, so a status is the enum in memory too."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_result_value(self, value: str | None, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)


def _timestamp(**kwargs: Any) -> Any:
    return Field(sa_type=UtcDateTime, **kwargs)


# Languages of the emails and of a petition's text: English is required (the petition's own
# columns), the others are optional translations.
class Language(StrEnum):
    """The language of emails and pages: English or Spanish."""

    en = "en"
    es = "es"


DEFAULT_TEXT_LANGUAGE = "en"


def _translations_column() -> Any:
    # {"es": {"title", "ask", "target", "body"}}: the text in languages other than English.
    return Column(JSON, nullable=False, server_default=text("'{}'"))


# --- tables -------------------------------------------------------------------------------


class Petition(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=SLUG_MAX, unique=True)
    title: str = Field(max_length=200)
    ask: str = Field(max_length=1000)
    target: str = Field(max_length=200)
    body: str = Field(max_length=20000)
    status: PetitionStatus = Field(sa_type=StrEnumText(PetitionStatus, 10), index=True)
    goal: int
    milestones: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    opens_at: dt.datetime | None = _timestamp(default=None, nullable=True)
    closes_at: dt.datetime | None = _timestamp(default=None, nullable=True)
    version: int = 1
    content_hash: str = Field(max_length=64)
    translations: dict[str, dict[str, str]] = Field(
        default_factory=dict, sa_column=_translations_column()
    )
    # When staff closed it; retention (`advocacy anonymize`) counts from here.
    closed_at: dt.datetime | None = _timestamp(default=None, nullable=True)
    created_at: dt.datetime = _timestamp(default_factory=utcnow)
    updated_at: dt.datetime = _timestamp(default_factory=utcnow)


class PetitionVersion(SQLModel, table=True):
    """Each text a petition has had: a signature records the version its signer saw."""

    __tablename__ = "petition_version"

    petition_id: int = Field(foreign_key="petition.id", primary_key=True, ondelete="CASCADE")
    number: int = Field(primary_key=True)
    content_hash: str = Field(max_length=64)
    title: str = Field(max_length=200)
    ask: str = Field(max_length=1000)
    target: str = Field(max_length=200)
    body: str = Field(max_length=20000)
    translations: dict[str, dict[str, str]] = Field(
        default_factory=dict, sa_column=_translations_column()
    )
    created_at: dt.datetime = _timestamp(default_factory=utcnow)


class Signature(SQLModel, table=True):
    __table_args__ = (
        # One signature per person per petition. NULL once withdrawn, so they may sign again.
        UniqueConstraint("petition_id", "email_hash"),
        Index("ix_signature_petition_status_confirmed", "petition_id", "status", "confirmed_at"),
        # The worker's search for unconfirmed signatures due a reminder.
        Index("ix_signature_status_created_at", "status", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    petition_id: int = Field(foreign_key="petition.id", ondelete="CASCADE")
    petition_version: int
    status: SignatureStatus = Field(sa_type=StrEnumText(SignatureStatus, 12))
    email_hash: str | None = Field(default=None, max_length=64)
    # Personal data: erased on withdrawal and by retention (`advocacy anonymize`).
    email: str | None = Field(default=None, max_length=320)
    first_name: str | None = Field(default=None, max_length=NAME_MAX)
    last_name: str | None = Field(default=None, max_length=NAME_MAX)
    postal_code: str | None = Field(default=None, max_length=POSTAL_CODE_MAX)
    comment: str | None = Field(default=None, max_length=COMMENT_MAX)
    ip_hash: str | None = Field(default=None, max_length=64)
    county: str | None = Field(default=None, max_length=80)
    # Coarse and kept in the anonymous record, so stats survive erasure.
    country: str = Field(max_length=2)
    state: str | None = Field(default=None, max_length=2)
    display_publicly: bool = False
    contact_opt_in: bool = False
    locale: str = Field(default="en", max_length=5)
    # The share channel whose link brought the signer (`?ref=`, one of REFERRAL_CHANNELS).
    # Staff see it only counted over confirmed signatures, never per person.
    referral: str | None = Field(default=None, max_length=REFERRAL_MAX)
    emails_sent: int = 0
    created_at: dt.datetime = _timestamp(default_factory=utcnow)
    confirmed_at: dt.datetime | None = _timestamp(default=None, nullable=True)
    withdrawn_at: dt.datetime | None = _timestamp(default=None, nullable=True)
    # When the one reminder to confirm was sent (api/petitions/reminders.py).
    reminded_at: dt.datetime | None = _timestamp(default=None, nullable=True)


class SignatureToken(SQLModel, table=True):
    """A link sent by email. Only its hash is stored; it is single-use and may expire."""

    __tablename__ = "signature_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    signature_id: int = Field(foreign_key="signature.id", index=True, ondelete="CASCADE")
    purpose: TokenPurpose = Field(sa_type=StrEnumText(TokenPurpose, 10))
    created_at: dt.datetime = _timestamp(default_factory=utcnow)
    expires_at: dt.datetime | None = _timestamp(default=None, nullable=True)
    used_at: dt.datetime | None = _timestamp(default=None, nullable=True)


class CountShard(SQLModel, table=True):
    """Confirmed signatures of a petition, spread over COUNT_SHARDS rows: each confirmation
    updates one shard at random, and a count is the sum of COUNT_SHARDS rows."""

    __tablename__ = "count_shard"

    petition_id: int = Field(foreign_key="petition.id", primary_key=True, ondelete="CASCADE")
    shard: int = Field(primary_key=True)
    confirmed: int = 0
