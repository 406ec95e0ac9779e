"""Application factory: settings in, a ready ASGI app out. Nothing is built at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import health
from api.config import Settings, get_settings
from api.db import Database
from api.errors import install_error_handlers
from api.http import (
    AccessLogMiddleware,
    BodySizeLimitMiddleware,
    ConditionalGetMiddleware,
    SecurityHeadersMiddleware,
)
from api.incident.router import router as incident_router
from api.openapi import API_DESCRIPTION, TAGS, install_openapi


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sync endpoints run on this pool; it is sized with the database pool so no request
        # waits for a connection while holding a thread.
        to_thread.current_default_thread_limiter().total_tokens = settings.thread_pool_size
        yield
        app.state.database.dispose()

    app = FastAPI(
        title="Minimum Arrest Age advocacy API",
        version="1.0.0",
        description=API_DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = Database(settings)

    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(incident_router)
    install_openapi(app)

    # Outermost last: logs see the final status; size cap runs before anything reads a body.
    app.add_middleware(ConditionalGetMiddleware)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type", "Idempotency-Key", "Authorization", "If-None-Match"],
        expose_headers=["ETag", "Retry-After", "RateLimit", "RateLimit-Policy", "Location"],
        max_age=600,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLogMiddleware)
    return app
