"""Request-scoped dependencies shared by every router."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from sqlmodel import Session

from api.config import Settings
from api.db import Database


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _read_session(database: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    with database.session() as session:
        yield session


def _write_session(database: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    with database.session(write=True) as session:
        yield session


# scope="function": the unit of work commits before the response is sent, so a client that
# was answered 2xx knows its write is durable, and a failed commit becomes an error response.
ReadSession = Annotated[Session, Depends(_read_session, scope="function")]
WriteSession = Annotated[Session, Depends(_write_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_app_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]


def cache_control(value: str) -> Any:
    """A dependency that sets Cache-Control on the successful response."""

    def _set(response: Response) -> None:
        response.headers["Cache-Control"] = value

    return Depends(_set)


PUBLIC_CACHE_VALUE = "public, max-age=60, stale-while-revalidate=300"
PUBLIC_CACHE = cache_control(PUBLIC_CACHE_VALUE)
