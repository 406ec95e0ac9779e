"""Admin tables: API keys and the audit log, and the scopes a key may hold.

The admin API's request and response models are in api/admin/schemas.py.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from api.db import UtcDateTime, utcnow

KEY_NAME_MAX = 100


class Scope(StrEnum):
    """What an API key may do. A key holds any set of them."""

    petitions_write = "petitions:write"
    facts_write = "facts:write"
    signatures_read = "signatures:read"
    signatures_export = "signatures:export"
    signatures_moderate = "signatures:moderate"
    audit_read = "audit:read"


class ApiKey(SQLModel, table=True):
    """A staff API key. Only the SHA-256 of the key is kept; the key is shown once."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=KEY_NAME_MAX, index=True)
    # The key's first characters, so staff can tell keys apart without the secret.
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    revoked_at: dt.datetime | None = Field(sa_type=UtcDateTime, default=None, nullable=True)


class AuditEntry(SQLModel, table=True):
    """One admin action: who, what, on what, when, and the target before and after.

    Written in the same transaction as the action, so an action is logged if and only if it
    happened. Never holds signers' emails, IP addresses or postal codes.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_target", "target_type", "target_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    key_id: int | None = Field(default=None, foreign_key="api_key.id", index=True)
    key_name: str = Field(max_length=KEY_NAME_MAX)
    action: str = Field(max_length=60, index=True)
    target_type: str = Field(max_length=40)
    target_id: str = Field(max_length=200)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
