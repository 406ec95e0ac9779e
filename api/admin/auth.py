"""API keys: made by `advocacy create-api-key`, sent as `Authorization: Bearer <key>`.

A key is 256 random bits; only its SHA-256 is stored, so a database leak yields no usable key
(a plain hash is enough for random keys: there is nothing to guess). Each admin operation names
the scopes it needs with `require(...)`, which also puts them in the OpenAPI document.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from sqlmodel import Session, col, select

from api.admin.models import KEY_NAME_MAX, ApiKey, Scope
from api.db import Database, utcnow
from api.deps import DatabaseDep
from api.errors import Forbidden, NotFound, Unauthorized
from api.security import token_hash

KEY_PREFIX = "adv_"
SHOWN_PREFIX_LENGTH = len(KEY_PREFIX) + 6
REALM = 'Bearer realm="advocacy-admin"'

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    bearerFormat="adv_...",
    description="A staff API key from `advocacy create-api-key --name NAME --scopes a,b`, sent "
    "as `Authorization: Bearer adv_...`. Each operation lists the scopes it needs.",
)


@dataclass(frozen=True)
class Actor:
    """Who acts: an API key, or the CLI (`key_id` None)."""

    key_id: int | None
    name: str
    scopes: frozenset[str]

    def has(self, scope: Scope) -> bool:
        return scope.value in self.scopes


CLI_ACTOR = Actor(key_id=None, name="cli", scopes=frozenset(s.value for s in Scope))


def parse_scopes(values: Iterable[str]) -> list[str]:
    """Known scopes, de-duplicated and in a stable order; ValueError names an unknown one."""
    wanted = {v.strip() for v in values if v.strip()}
    unknown = sorted(wanted - {s.value for s in Scope})
    if unknown:
        known = ", ".join(s.value for s in Scope)
        raise ValueError(f"unknown scope {unknown[0]!r}; known scopes: {known}")
    if not wanted:
        raise ValueError("give at least one scope")
    return [s.value for s in Scope if s.value in wanted]


def create_api_key(session: Session, name: str, scopes: Iterable[str]) -> tuple[ApiKey, str]:
    """A new key and its secret, which is shown once and never stored."""
    name = name.strip()
    if not name or len(name) > KEY_NAME_MAX:
        raise ValueError(f"the name must be 1 to {KEY_NAME_MAX} characters")
    active = session.exec(
        select(ApiKey.id).where(ApiKey.name == name, col(ApiKey.revoked_at).is_(None))
    ).first()
    if active is not None:
        raise ValueError(f"an active key is already named {name!r}; revoke it or pick another")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        prefix=secret[:SHOWN_PREFIX_LENGTH],
        key_hash=token_hash(secret),
        scopes=parse_scopes(scopes),
    )
    session.add(key)
    session.flush()
    return key, secret


def revoke_api_key(session: Session, key: str) -> ApiKey:
    """Revoke by id (digits) or by name (the active key with that name)."""
    statement = select(ApiKey).where(col(ApiKey.revoked_at).is_(None))
    if key.isdigit():
        statement = statement.where(ApiKey.id == int(key))
    else:
        statement = statement.where(ApiKey.name == key)
    row = session.exec(statement).first()
    if row is None:
        raise NotFound(f"No active API key with id or name {key!r}.")
    row.revoked_at = utcnow()
    session.add(row)
    session.flush()
    return row


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).order_by(col(ApiKey.id))).all())


def _actor(database: Database, secret: str) -> Actor:
    with database.session() as session:
        key = session.exec(select(ApiKey).where(ApiKey.key_hash == token_hash(secret))).first()
    if key is None or key.id is None:
        raise Unauthorized(
            "This API key is not known.",
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        )
    if key.revoked_at is not None:
        raise Unauthorized(
            "This API key has been revoked.",
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        )
    return Actor(key_id=key.id, name=key.name, scopes=frozenset(key.scopes))


def authenticated_key(
    security_scopes: SecurityScopes,
    database: DatabaseDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    if credentials is None or not credentials.credentials:
        raise Unauthorized(
            "An API key is required: send `Authorization: Bearer <key>`.",
            headers={"WWW-Authenticate": REALM},
        )
    actor = _actor(database, credentials.credentials)
    missing = [scope for scope in security_scopes.scopes if scope not in actor.scopes]
    if missing:
        needed = " ".join(security_scopes.scopes)
        raise Forbidden(
            f"This API key lacks the scope `{missing[0]}`.",
            headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{needed}"'},
            extra={"required_scopes": security_scopes.scopes},
        )
    return actor


def require(*scopes: Scope) -> Any:
    """A dependency: the calling key, which must hold every one of `scopes` (401/403 else)."""
    return Security(authenticated_key, scopes=[scope.value for scope in scopes])
