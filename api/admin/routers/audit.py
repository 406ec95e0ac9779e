"""Admin: the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from api.admin import audit
from api.admin.auth import Actor, require
from api.admin.models import Scope
from api.admin.routers.common import ID_MAX, Paging, admin_router, problems
from api.admin.schemas import AuditEntryPublic, AuditTargetType
from api.deps import ReadSession
from api.pagination import Page, page_of

router = admin_router()


@router.get(
    "/audit",
    summary="The audit log",
    description="Every admin action, newest first: which key, what action, on what, when, "
    "and the target before and after. Entries are written in the same transaction as the "
    "action. They never hold signers' emails, IP addresses or postal codes. "
    "Scope: `audit:read`.",
    response_model=Page[AuditEntryPublic],
    responses=problems(),
)
def list_audit(
    actor: Annotated[Actor, require(Scope.audit_read)],
    request: Request,
    session: ReadSession,
    paging: Paging,
    action: Annotated[
        str | None, Query(max_length=60, examples=["petition.update"], description="Exact.")
    ] = None,
    target_type: Annotated[AuditTargetType | None, Query()] = None,
    target_id: Annotated[
        str | None, Query(max_length=200, examples=["florida-minimum-arrest-age-12"])
    ] = None,
    key_id: Annotated[int | None, Query(ge=1, le=ID_MAX, description="An API key's id.")] = None,
) -> Page[AuditEntryPublic]:
    items, cursor = audit.list_audit(
        session,
        paging,
        action=action,
        target_type=target_type,
        target_id=target_id,
        key_id=key_id,
    )
    return page_of(request, items, cursor)
