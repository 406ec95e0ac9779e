"""Issuing and revoking staff API keys (the CLI's commands), each audited.

The keys themselves (making, hashing, checking a request's key) are in api/admin/auth.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from api.admin.audit import audited, iso_time
from api.admin.auth import Actor, create_api_key, revoke_api_key
from api.admin.models import ApiKey


def _key_snapshot(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": key.scopes,
        "revoked_at": iso_time(key.revoked_at),
    }


def issue_api_key(
    session: Session, actor: Actor, name: str, scopes: Sequence[str]
) -> tuple[ApiKey, str]:
    """A new key and its secret (shown once). ValueError for a bad name or scope."""
    with audited(session, actor, "api_key.create", "api_key") as step:
        key, secret = create_api_key(session, name, scopes)
        step.target_id, step.after = str(key.id), _key_snapshot(key)
    return key, secret


def revoke_key(session: Session, actor: Actor, key: str) -> ApiKey:
    with audited(session, actor, "api_key.revoke", "api_key") as step:
        row = revoke_api_key(session, key)
        step.target_id = str(row.id)
        step.before = {**_key_snapshot(row), "revoked_at": None}
        step.after = _key_snapshot(row)
    return row
