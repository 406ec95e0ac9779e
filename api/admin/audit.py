"""The audit log: every admin write goes through `audited(...)`, which writes its entry in the
same unit of work as the action, so an action is logged if and only if it happened.

Audit entries never hold a signer's email, IP address or postal code: strikes record signature
ids, counts, the reason, and which criteria were used (not their values, where personal).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, select

from api.admin.auth import Actor
from api.admin.models import AuditEntry
from api.admin.schemas import AuditEntryPublic
from api.caches import ALL_CACHES, invalidate_after_commit
from api.pagination import PageParams, paginate

logger = logging.getLogger(__name__)


def record(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Write one audit entry: the only place that does."""
    session.add(
        AuditEntry(
            key_id=actor.key_id,
            key_name=actor.name,
            action=action,
            target_type=target_type,
            target_id=target_id[:200],
            before=before,
            after=after,
        )
    )
    # A staff write may change anything the public reads: every cache forgets it on commit.
    invalidate_after_commit(session, *ALL_CACHES)
    # The action and the key only: targets may be personal (an IP range, a signer).
    logger.info("admin action %s on a %s by key %s", action, target_type, actor.key_id)


@dataclass
class AuditStep:
    """What the action fills in while it runs: the target after it, and the target's id when
    the action makes it (a new fact's id, say)."""

    target_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None = None


@contextmanager
def audited(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str | None = None,
    *,
    before: dict[str, Any] | None = None,
) -> Iterator[AuditStep]:
    """Run the domain call in the `with` block, then record the entry. An action that raises
    records nothing (and its unit of work is rolled back)."""
    step = AuditStep(target_id=target_id, before=before)
    yield step
    if step.target_id is None:
        raise RuntimeError(f"audited {action!r} without a target id")
    record(
        session, actor, action, target_type, step.target_id, before=step.before, after=step.after
    )


def snapshot(model: BaseModel, exclude: set[str] | None = None) -> dict[str, Any]:
    """A response model as the audit log keeps it: plain JSON values."""
    return model.model_dump(mode="json", exclude=exclude)


def iso_time(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def list_audit(
    session: Session,
    page: PageParams,
    *,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    key_id: int | None = None,
) -> tuple[list[AuditEntryPublic], str | None]:
    statement = select(AuditEntry)
    if action is not None:
        statement = statement.where(AuditEntry.action == action)
    if target_type is not None:
        statement = statement.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        statement = statement.where(AuditEntry.target_id == target_id)
    if key_id is not None:
        statement = statement.where(AuditEntry.key_id == key_id)
    rows, cursor = paginate(
        session, statement, [AuditEntry.id], page, key=lambda e: (e.id,), descending=True
    )
    return [AuditEntryPublic.model_validate(row, from_attributes=True) for row in rows], cursor
