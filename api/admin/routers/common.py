"""What every admin router shares: the prefix, the tag, no caching, typed path parameters."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Depends, HTTPException
from starlette.types import Receive, Scope, Send

from api.deps import cache_control
from api.errors import AppError, Forbidden, Unauthorized, problem_responses
from api.openapi import operation_id
from api.pagination import PageParams, page_params
from api.routing import ADMIN_PREFIX, ApiRoute

ID_MAX = 2**53  # ids stay exact in JavaScript, and within every database's integer

Paging = Annotated[PageParams, Depends(page_params)]


class AdminRoute(ApiRoute):
    """A route whose 405 lists every method its path supports.

    Admin paths carry several operations (GET and PATCH on one resource, say), each its own
    route; Starlette would answer a wrong method with the `Allow` of the first route only.
    """

    methods_by_path: ClassVar[defaultdict[str, set[str]]] = defaultdict(set)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        AdminRoute.methods_by_path[self.path_format] |= self.methods or set()

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            allowed = sorted(AdminRoute.methods_by_path[self.path_format])
            raise HTTPException(status_code=405, headers={"Allow": ", ".join(allowed)})
        await super().handle(scope, receive, send)


def admin_router() -> APIRouter:
    # Admin answers carry personal data and staff-only state: never stored by caches.
    return APIRouter(
        prefix=ADMIN_PREFIX,
        tags=["admin"],
        dependencies=[cache_control("no-store")],
        route_class=AdminRoute,
        generate_unique_id_function=operation_id,
    )


def problems(*raised: type[AppError] | AppError) -> dict[int | str, dict[str, Any]]:
    """Every admin operation can answer 401 (no, unknown or revoked key) and 403 (scope)."""
    return problem_responses(Unauthorized, Forbidden, *raised)
