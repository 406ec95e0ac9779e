"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.deps import DatabaseDep
from api.errors import DatabaseUnavailable, problem_responses

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


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
    description="Answers 200 when the database answers a query; 503 problem+json if not.",
    response_model=Health,
    responses=problem_responses(DatabaseUnavailable),
)
def readyz(database: DatabaseDep) -> Health:
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(headers={"Retry-After": "5"}) from exc
    return Health()
