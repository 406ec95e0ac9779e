"""Admin: block lists that signing checks (email domains and IP ranges).

Entries are removed with a query parameter, not a path segment: paths are logged, and an IP
address never goes into a log line.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, status

from api.admin import blocklists
from api.admin.auth import Actor, require
from api.admin.models import Scope
from api.admin.routers.common import Paging, admin_router, problems
from api.admin.schemas import (
    BlockedDomainCreate,
    BlockedDomainPublic,
    BlockedRangeCreate,
    BlockedRangePublic,
)
from api.deps import ReadSession, WriteSession
from api.errors import Conflict, NotFound
from api.pagination import Page, page_of

router = admin_router()

Moderator = Annotated[Actor, require(Scope.signatures_moderate)]
SCOPE = " Scope: `signatures:moderate`."
TAKES_EFFECT = " Takes effect within seconds on every instance."


@router.get(
    "/blocklist/email-domains",
    summary="Blocked email domains",
    description="Domains whose addresses (and whose subdomains' addresses) may not sign, in "
    "alphabetical order. Disposable-address providers are refused anyway and are not listed "
    "here." + SCOPE,
    response_model=Page[BlockedDomainPublic],
    responses=problems(),
)
def list_domains(
    actor: Moderator, request: Request, session: ReadSession, paging: Paging
) -> Page[BlockedDomainPublic]:
    items, cursor = blocklists.list_blocked_domains(session, paging)
    return page_of(request, items, cursor)


@router.post(
    "/blocklist/email-domains",
    summary="Block an email domain",
    description="Signing with an address at the domain, or at any of its subdomains, is then "
    "refused with a 422 on `email`. The domain is stored case-folded, in Unicode. 409 if it "
    "is already blocked." + TAKES_EFFECT + SCOPE,
    status_code=status.HTTP_201_CREATED,
    response_model=BlockedDomainPublic,
    responses=problems(Conflict),
)
def block_domain(
    actor: Moderator, body: BlockedDomainCreate, session: WriteSession
) -> BlockedDomainPublic:
    return blocklists.block_domain(session, actor, body)


@router.delete(
    "/blocklist/email-domains",
    summary="Unblock an email domain",
    description="Removes a domain from the block list. 404 if it is not on it."
    + TAKES_EFFECT
    + SCOPE,
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(NotFound),
)
def unblock_domain(
    actor: Moderator,
    session: WriteSession,
    domain: Annotated[str, Query(min_length=3, max_length=255, examples=["spam.example"])],
) -> None:
    blocklists.unblock_domain(session, actor, domain)


@router.get(
    "/blocklist/ip-ranges",
    summary="Blocked IP ranges",
    description="Networks (CIDR) from which signing is refused with a 403." + SCOPE,
    response_model=Page[BlockedRangePublic],
    responses=problems(),
)
def list_ranges(
    actor: Moderator, request: Request, session: ReadSession, paging: Paging
) -> Page[BlockedRangePublic]:
    items, cursor = blocklists.list_blocked_ranges(session, paging)
    return page_of(request, items, cursor)


@router.post(
    "/blocklist/ip-ranges",
    summary="Block an IP range",
    description="An IPv4 or IPv6 network in CIDR notation, or a single address (stored as "
    "/32 or /128). A network with host bits set (`203.0.113.7/24`) is refused with the "
    "network it probably means. 409 if it is already blocked." + TAKES_EFFECT + SCOPE,
    status_code=status.HTTP_201_CREATED,
    response_model=BlockedRangePublic,
    responses=problems(Conflict),
)
def block_range(
    actor: Moderator, body: BlockedRangeCreate, session: WriteSession
) -> BlockedRangePublic:
    return blocklists.block_range(session, actor, body)


@router.delete(
    "/blocklist/ip-ranges",
    summary="Unblock an IP range",
    description="Removes a network from the block list; give it as listed (`cidr`). 404 if it "
    "is not on it." + TAKES_EFFECT + SCOPE,
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(NotFound),
)
def unblock_range(
    actor: Moderator,
    session: WriteSession,
    cidr: Annotated[str, Query(min_length=2, max_length=64, examples=["203.0.113.0/24"])],
) -> None:
    blocklists.unblock_range(session, actor, cidr)
