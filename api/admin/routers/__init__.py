"""The admin API under /v1/admin: every operation needs an API key with the right scopes."""

from __future__ import annotations

from fastapi import APIRouter

from api.admin.routers import audit, blocklists, facts, petitions, signatures

router = APIRouter()
for module in (petitions, facts, signatures, blocklists, audit):
    router.include_router(module.router)
