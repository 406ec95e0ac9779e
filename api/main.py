"""Application factory: settings in, a ready ASGI app out. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import importlib
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

from anyio import to_thread
from fastapi import FastAPI

from api import health, metrics
from api.abuse.deps import build_rate_limiter
from api.abuse.service import block_list_cache
from api.availability import DependencyState
from api.caches import BLOCK_LISTS, COUNTS, RESPONSES, SHARE_IMAGES, STATS, Caches, TtlCache
from api.config import Settings, get_settings
from api.db import Database
from api.deps import write_slots
from api.docs import install_docs
from api.error_handlers import install_error_handlers
from api.groupcommit import GroupCommitter
from api.housekeeping import run_housekeeping, send_reminders
from api.idempotency import IdempotencyMiddleware
from api.incident.router import router as incident_router
from api.logs import configure_logging
from api.mail.worker import MailWorker, backend_for
from api.metrics import router as metrics_router
from api.middleware.cors import CorsMiddleware
from api.middleware.edge import EdgeMiddleware
from api.middleware.etag import ETagMiddleware
from api.middleware.response_cache import ResponseCache, ResponseCacheMiddleware
from api.openapi import API_DESCRIPTION, TAGS, install_openapi, operation_id
from api.petitions.router import router as petitions_router
from api.petitions.schemas import CountPublic, PetitionStats
from api.petitions.validation import zip_place
from api.routing import ADMIN_PREFIX, add_routes, add_routes_on_first_use
from api.web.events import count_broadcaster
from api.web.router import add_web_routes
from api.web.share import ShareImage


def when_asked_to_stop(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Run `callback` on `loop` as soon as SIGTERM or SIGINT arrives, then let the server's own
    handler (uvicorn's graceful shutdown) have the signal.

    uvicorn stops accepting, then waits for open connections before the lifespan ends; an
    event stream never ends by itself, so without this hook each one would hold the shutdown
    until its timeout and be cut without a word. (Only in the main thread, where signal
    handlers live; a test client runs the app elsewhere and needs none.)"""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)

        def handler(sig: int, frame: FrameType | None, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(callback)
            if callable(previous):
                previous(sig, frame)

        signal.signal(signum, handler)


def end_event_streams(app: FastAPI) -> None:
    broadcaster = count_broadcaster(app)
    if broadcaster is not None:
        app.state.closing_streams = asyncio.ensure_future(broadcaster.close())


def build_caches(settings: Settings) -> Caches:
    """Every per-process cache of the app, by name (api.caches)."""
    caches = Caches()
    caches.register(RESPONSES, ResponseCache(fresh_seconds=settings.response_cache_seconds))
    caches.register(COUNTS, TtlCache[CountPublic](ttl_seconds=settings.count_cache_seconds))
    caches.register(STATS, TtlCache[PetitionStats](ttl_seconds=30.0))
    caches.register(SHARE_IMAGES, TtlCache[ShareImage](ttl_seconds=settings.share_image_seconds))
    caches.register(BLOCK_LISTS, block_list_cache())
    return caches


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sync endpoints run on this pool; it is sized with the database pool so no request
        # waits for a connection while holding a thread.
        to_thread.current_default_thread_limiter().total_tokens = settings.thread_pool_size
        zip_place("32801")  # load the ZIP dataset now, not on the first signature
        when_asked_to_stop(asyncio.get_running_loop(), lambda: end_event_streams(app))
        stop = threading.Event()
        worker_thread = None
        if settings.mail_worker_in_process:
            worker = MailWorker(
                app.state.database,
                settings,
                backend_for(settings),
                daily=lambda: run_housekeeping(app.state.database, settings),
                frequent=lambda: send_reminders(app.state.database, settings),
            )
            worker_thread = threading.Thread(
                target=worker.run_forever, args=(stop,), name="mail-worker", daemon=True
            )
            worker_thread.start()
        yield
        # uvicorn has stopped accepting and answered every request in flight (each waited
        # for its group-commit batch); what is left: live-count streams still open (when no
        # signal ended them: a test client, an embedding server), the mail worker's batch,
        # queued writes.
        broadcaster = count_broadcaster(app)
        if broadcaster is not None:
            await broadcaster.close()
        stop.set()
        if worker_thread is not None:
            worker_thread.join(timeout=10)
        app.state.group_commit.close()
        app.state.database.dispose()

    app = FastAPI(
        title="Minimum Arrest Age advocacy API",
        version="1.0.0",
        description=API_DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,  # served by api.docs with local assets
        redoc_url=None,
        # FastAPI's built-in OpenTelemetry hooks run on every request even with no provider
        # configured; this service exports Prometheus metrics and its own access log instead.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = settings
    app.state.caches = caches = build_caches(settings)
    app.state.database = Database(settings, caches)
    metrics.watch_pool(app.state.database.engine)
    app.state.group_commit = GroupCommitter(
        app.state.database, queue_seconds=settings.db_statement_timeout_seconds
    )
    # Each dependency whose outage is answered 503 (api.availability), and how /readyz asks it.
    app.state.dependency_states = [app.state.database.availability]
    app.state.readiness_probes = health.readiness_probes(settings, app.state.database)
    app.state.write_slots = write_slots(settings, app.state.database)
    app.state.rate_limiter = build_rate_limiter(settings)

    install_error_handlers(app)
    # Matched in this order, one route at a time: the busiest first (liveness probes, then
    # signing, confirming and counts), the admin API and the pages last. The busy routers'
    # routes go in the app's own list (add_routes says why).
    add_routes(app, health.router)
    add_routes(app, petitions_router)
    add_routes(app, incident_router)
    add_routes(app, metrics_router)
    # Imported and built on first use: no probe, signature or page needs them (api.routing).
    # add_routes is named here so that a test swapping it for include_router swaps it for
    # these too (tests/test_openapi.py).
    add_routes_on_first_use(
        app, ADMIN_PREFIX, lambda: importlib.import_module("api.admin.routers").routers, add_routes
    )
    add_web_routes(app)
    install_openapi(app)
    install_docs(app)

    # Outermost last: the edge's log sees the final status; its size cap runs before anything
    # reads a body.
    app.add_middleware(IdempotencyMiddleware, database=app.state.database, settings=settings)
    app.add_middleware(ETagMiddleware)
    app.add_middleware(ResponseCacheMiddleware, cache=caches.get(RESPONSES, ResponseCache))
    app.add_middleware(
        CorsMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Content-Type", "Idempotency-Key", "Authorization", "If-None-Match"],
        expose_headers=[
            "ETag",
            "Retry-After",
            "RateLimit",
            "RateLimit-Policy",
            "Location",
            "Idempotent-Replayed",
        ],
        max_age=600,
    )
    # Request id and access log, outage answers, body size cap, unstorable text and security
    # headers, in one pass (api.middleware.edge).
    states: list[DependencyState] = app.state.dependency_states
    app.add_middleware(
        EdgeMiddleware,
        max_body_bytes=settings.max_body_bytes,
        trusted_proxies=settings.trusted_proxies,
        dependency_states=states,
    )
    return app
