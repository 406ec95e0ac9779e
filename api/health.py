"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.deps import DatabaseDep
from api.errors import DatabaseUnavailable, ServiceUnavailable, problem_responses

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(Health):
    checks: dict[str, str] = Field(
        description="Each dependency's state. `redis`: `ok`, `down` or "
        "`not_configured`; with `down` and `redis_on_error=local` the service is ready "
        "(rate limits count per process), with `closed` it is not.",
    )


@router.get(
    "/healthz",
    summary="Liveness",
    description="Answers 200 while the process is up. Checks nothing else.",
    response_model=Health,
)
def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    summary="Readiness",
    description="Answers 200 when the database answers a query and, with `REDIS_URL` and "
    "`RATE_LIMIT_ON_REDIS_ERROR=closed`, Redis answers a ping; 503 problem+json if not.",
    response_model=Readiness,
    responses=problem_responses(DatabaseUnavailable, ServiceUnavailable),
)
def readyz(request: Request, database: DatabaseDep) -> Readiness:
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(headers={"Retry-After": "5"}) from exc
    checks = request.app.state.rate_limiter.health()  # bounded by REDIS_TIMEOUT_SECONDS
    if checks.get("redis") == "down" and checks.get("redis_on_error") == "closed":
        raise ServiceUnavailable("Redis is not reachable.", headers={"Retry-After": "5"})
    return Readiness(checks={"database": "ok", **checks})
