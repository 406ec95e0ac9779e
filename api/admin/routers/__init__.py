"""The admin API under /v1/admin: every operation needs an API key with the right scopes."""

from __future__ import annotations

from fastapi import APIRouter

from api.admin.routers import audit, blocklists, facts, petitions, signatures

# Added to the app route by route (api.routing.add_routes), not gathered in one router: an
# included router's routes are built again for it, and again for the app that includes it.
routers: tuple[APIRouter, ...] = tuple(
    module.router for module in (petitions, facts, signatures, blocklists, audit)
)
