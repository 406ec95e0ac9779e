"""Prometheus metrics (prometheus-client), correct with `advocacy serve --workers N`.

`advocacy serve` points PROMETHEUS_MULTIPROC_DIR at a fresh directory before any worker starts;
prometheus-client then keeps each process's values in memory-mapped files there and `/metrics`
(answered by any one worker) sums them. Without that variable (tests, a single embedded app)
the values live in this process.

Labels hold only values from a known, small set: route templates, methods, statuses, event
names. Never a path, an address or anything a client typed.

`/metrics` is not public: it answers only `Authorization: Bearer $METRICS_TOKEN`, and is a 404
when METRICS_TOKEN is not set.
"""

from __future__ import annotations

import datetime as dt
import glob
import hmac
import os
import re
from collections.abc import Iterator
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event, func, select
from sqlmodel import col

from api.config import Settings
from api.errors import NotFound, Unauthorized

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "advocacy_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "advocacy_http_request_duration_seconds",
    "Time to answer a request (an event stream counts its whole life), by route template.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
SIGNATURES = Counter(
    "advocacy_signatures",
    "Signature events: accepted (a 202 to a signing request), confirmed, withdrawn, struck.",
    ["event"],
)
RATE_LIMIT_REFUSALS = Counter(
    "advocacy_rate_limit_refusals",
    "Requests refused with 429 by the rate limiter, by action (sign, access).",
    ["action"],
)
MAIL = Counter(
    "advocacy_mail",
    "Mails handed to the mail backend: sent, or failed (to be retried).",
    ["outcome"],
)
SSE_STREAMS = Gauge(
    "advocacy_sse_streams_open",
    "Live-count event streams open now.",
    multiprocess_mode="livesum",
)
GROUP_COMMIT_BATCH = Histogram(
    "advocacy_group_commit_batch_size",
    "Units of work (signatures, confirmations, ...) committed together in one transaction.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
GROUP_COMMIT_SECONDS = Histogram(
    "advocacy_group_commit_seconds",
    "Where a group-commit batch's time goes, by phase: turn (waiting for the write lock, "
    "SQLite's shared by every process), work (running its units), commit (to the disk).",
    ["phase"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
)
DB_CONNECTIONS_IN_USE = Gauge(
    "advocacy_db_connections_in_use",
    "Database connections checked out of the pools now (all processes; each pool holds "
    "DB_POOL_SIZE).",
    multiprocess_mode="livesum",
)

# (the process/platform collectors of the default registry are left out: they describe one
# process and would be wrong beside the multi-process sums)
_OWN_METRICS: list[Collector] = [
    REQUESTS,
    REQUEST_SECONDS,
    SIGNATURES,
    RATE_LIMIT_REFUSALS,
    MAIL,
    SSE_STREAMS,
    GROUP_COMMIT_BATCH,
    GROUP_COMMIT_SECONDS,
    DB_CONNECTIONS_IN_USE,
]

for _event in ("accepted", "confirmed", "withdrawn", "struck"):
    SIGNATURES.labels(_event)
for _outcome in ("sent", "failed"):
    MAIL.labels(_outcome)
# Each batch observes all three; the children are made once, not per batch.
GROUP_COMMIT_PHASES = tuple(GROUP_COMMIT_SECONDS.labels(p) for p in ("turn", "work", "commit"))


# The labelled children, by (route, method, status): `labels()` builds and locks on every
# call, and this runs on every request. Route templates, methods and statuses are few.
_REQUEST_CHILDREN: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    children = _REQUEST_CHILDREN.get((route, method, status))
    if children is None:
        children = (
            REQUESTS.labels(route, method, str(status)),
            REQUEST_SECONDS.labels(route, method),
        )
        _REQUEST_CHILDREN[(route, method, status)] = children
    children[0].inc()
    children[1].observe(seconds)


def watch_pool(engine: Engine) -> None:
    """Count the engine's checked-out connections in DB_CONNECTIONS_IN_USE."""
    event.listen(engine.pool, "checkout", lambda *_: DB_CONNECTIONS_IN_USE.inc())
    event.listen(engine.pool, "checkin", lambda *_: DB_CONNECTIONS_IN_USE.dec())


# --- the multi-process directory (set up by `advocacy serve`) --------------------


_LIVE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db$")


def _forget_dead_processes(directory: str) -> None:
    """Drop the live gauges of worker processes that have exited (a restarted worker)."""
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        match = _LIVE_FILE.search(path)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)
        except PermissionError:
            pass  # alive, another user's


# --- values read at scrape time -----------------------------------------------------------------


class OutboxCollector(Collector):
    """Outbox depth and the wait of the longest-waiting due mail, read from the database when
    scraped (two indexed queries on (status, next_attempt_at))."""

    def __init__(self, database: Any) -> None:
        self.database = database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from api.mail.models import MailMessage, MailStatus

        pending = col(MailMessage.status) == MailStatus.pending.value
        with self.database.session() as session:
            depth = session.execute(select(func.count()).where(pending)).scalar_one()
            oldest_due = session.execute(
                select(func.min(col(MailMessage.next_attempt_at))).where(pending)
            ).scalar_one()
        yield GaugeMetricFamily(
            "advocacy_outbox_pending", "Mails in the outbox not sent yet.", value=depth
        )
        waited = 0.0
        if oldest_due is not None:
            if oldest_due.tzinfo is None:
                oldest_due = oldest_due.replace(tzinfo=dt.UTC)
            waited = max(0.0, (dt.datetime.now(dt.UTC) - oldest_due).total_seconds())
        yield GaugeMetricFamily(
            "advocacy_outbox_oldest_unsent_age_seconds",
            "How long the longest-waiting unsent mail has been due (since it was queued, or "
            "since its retry time after a failure); 0 when none is due.",
            value=waited,
        )


def exposition(database: Any) -> bytes:
    """Every metric of every process, in Prometheus text format."""
    directory = os.environ.get(MULTIPROC_ENV)
    registry = CollectorRegistry()
    if directory:
        _forget_dead_processes(directory)
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        for collector in _OWN_METRICS:
            registry.register(collector)
    registry.register(OutboxCollector(database))
    return generate_latest(registry)


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if settings.metrics_token is None:
        raise NotFound("Not Found")
    expected = f"Bearer {settings.metrics_token.get_secret_value()}"
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized(
            "A metrics token is required: Authorization: Bearer <METRICS_TOKEN>.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    body = await to_thread.run_sync(exposition, request.app.state.database)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
