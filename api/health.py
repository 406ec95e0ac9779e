"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import StrEnum
from typing import Literal

import anyio
from anyio import to_thread
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import text

from api.availability import RETRY_AFTER_SECONDS
from api.config import Settings
from api.db import Database
from api.errors import ServiceUnavailable, problem_responses
from api.openapi import operation_id
from api.routing import ApiRoute

router = APIRouter(tags=["health"], route_class=ApiRoute, generate_unique_id_function=operation_id)

# Each dependency gets this long to answer; all are asked at once, so /readyz answers within it
# even when one hangs.
PROBE_TIMEOUT_SECONDS = 3.0
# A hung dependency keeps its probe's thread until the driver's own timeout: probes get threads
# of their own so a burst of /readyz cannot take the request threads.
_PROBE_THREADS = anyio.CapacityLimiter(4)

Probe = Callable[[], None]


class DependencyStatus(StrEnum):
    """Whether a dependency answered its readiness probe in time."""

    up = "up"
    down = "down"


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(Health):
    dependencies: dict[str, DependencyStatus] = Field(
        description="Each dependency this process needs (`database`, and `redis` when "
        "configured) and whether it answered within "
        f"{PROBE_TIMEOUT_SECONDS:g} seconds. On 503 the problem document carries the same "
        "map, naming the ones that are `down`. Redis `down` makes the process not ready only "
        "with `RATE_LIMIT_ON_REDIS_ERROR=closed`; with `local` it still serves (rate limits "
        "count per process) and says so here.",
        examples=[{"database": "up"}],
    )


def database_probe(database: Database) -> Probe:
    def probe() -> None:
        try:
            with database.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            if database.availability.failure_of(exc):
                database.availability.failed(exc)
            raise
        database.availability.recovered()

    return probe


def redis_probe(url: str) -> Probe:
    import redis

    client = redis.Redis.from_url(
        url, socket_timeout=PROBE_TIMEOUT_SECONDS, socket_connect_timeout=PROBE_TIMEOUT_SECONDS
    )

    def probe() -> None:
        client.ping()

    return probe


def readiness_probes(settings: Settings, database: Database) -> dict[str, Probe]:
    probes = {"database": database_probe(database)}
    if settings.redis_url:
        probes["redis"] = redis_probe(settings.redis_url)
    return probes


async def _status(probe: Probe) -> DependencyStatus:
    try:
        await asyncio.wait_for(
            to_thread.run_sync(probe, limiter=_PROBE_THREADS), PROBE_TIMEOUT_SECONDS
        )
    except Exception:
        return DependencyStatus.down
    return DependencyStatus.up


@router.get(
    "/healthz",
    summary="Liveness",
    description="Answers 200 while the process is up. Checks nothing else.",
    response_model=Health,
)
async def healthz() -> Response:
    # The answer never changes: built once, so a liveness probe (and the benchmark's ceiling)
    # pays for no validation and serialisation of the response model.
    return Response(HEALTHY, media_type="application/json")


HEALTHY = Health().model_dump_json().encode()


@router.get(
    "/readyz",
    summary="Readiness",
    description="Asks every dependency at once (the database; Redis when `REDIS_URL` is set), "
    f"each with {PROBE_TIMEOUT_SECONDS:g} seconds to answer: 200 when the process can serve; "
    "503 problem+json with `Retry-After` naming the dependencies that did not answer when one "
    "it cannot serve without is down (the database always; Redis only with "
    "`RATE_LIMIT_ON_REDIS_ERROR=closed`).",
    response_model=Readiness,
    responses=problem_responses(ServiceUnavailable),
)
async def readyz(request: Request) -> Readiness:
    probes: dict[str, Probe] = request.app.state.readiness_probes
    statuses = await asyncio.gather(*(_status(probe) for probe in probes.values()))
    dependencies = dict(zip(probes, statuses, strict=True))
    settings: Settings = request.app.state.settings
    down = [name for name, status in dependencies.items() if status == "down"]
    blocking = [
        name for name in down if name != "redis" or settings.rate_limit_on_redis_error == "closed"
    ]
    if blocking:
        raise ServiceUnavailable(
            f"Not ready: {', '.join(down)} not answering.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            extra={"dependencies": dependencies},
        )
    return Readiness(dependencies=dependencies)
