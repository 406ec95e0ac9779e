"""Tables behind the defences on signing: idempotency records, block lists, signing pauses,
and the self-service access links."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from api.db import UtcDateTime, utcnow

ALL_PETITIONS = "*"


class IdempotencyRecord(SQLModel, table=True):
    """The first response to a POST with an Idempotency-Key, replayed for 24 hours."""

    __tablename__ = "idempotency_record"

    # HMAC of (method, path, credentials, key): keys from different clients never collide.
    key_hash: str = Field(primary_key=True, max_length=64)
    request_hash: str = Field(max_length=64)
    completed: bool = False
    status_code: int | None = None
    response_body: str | None = Field(default=None, max_length=100_000)
    response_headers: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    # The signer the request was about (keyed hash of the canonical email), when the route
    # says so: withdrawal and retention erase the signer's records with their data.
    subject_hash: str | None = Field(default=None, max_length=64, index=True)
    created_at: dt.datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    expires_at: dt.datetime = Field(sa_type=UtcDateTime, index=True)


class BlockedEmailDomain(SQLModel, table=True):
    __tablename__ = "blocked_email_domain"

    domain: str = Field(primary_key=True, max_length=255)
    reason: str = Field(default="", max_length=300)
    created_at: dt.datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)


class BlockedIpRange(SQLModel, table=True):
    __tablename__ = "blocked_ip_range"

    cidr: str = Field(primary_key=True, max_length=64)
    reason: str = Field(default="", max_length=300)
    created_at: dt.datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)


class SigningPause(SQLModel, table=True):
    """The emergency switch: a row for a petition slug, or for "*" (every petition), stops
    signing there with a 503 until it is removed."""

    __tablename__ = "signing_pause"

    scope: str = Field(primary_key=True, max_length=80)
    reason: str = Field(default="", max_length=300)
    retry_after_seconds: int = 600
    created_at: dt.datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)


class AccessToken(SQLModel, table=True):
    """A link mailed to a signer to see and withdraw their own signatures."""

    __tablename__ = "access_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    email_hash: str = Field(max_length=64, index=True)
    created_at: dt.datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    expires_at: dt.datetime = Field(sa_type=UtcDateTime)
