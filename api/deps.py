"""Request-scoped dependencies shared by every router."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request, Response
from sqlmodel import Session

from api.config import Settings
from api.db import Database


# The small dependencies are `async def` although they never await: a sync dependency costs a
# round trip through the thread pool on every request.
async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def write_slots(settings: Settings, database: Database) -> anyio.Semaphore:
    """How many `WriteSession` units may hold a transaction at once, fewer than pool threads.

    A sync write unit keeps its transaction's locks (SQLite's write lock, PostgreSQL row locks)
    while its commit waits for a free pool thread. If every pool thread could be blocked waiting
    for such a lock, that commit would never run. SQLite has one writer anyway; on PostgreSQL
    half the pool may write while the other half is always free to finish them.
    """
    slots = 1 if database.is_sqlite else max(1, settings.thread_pool_size // 2)
    return anyio.Semaphore(slots, fast_acquire=True)


async def _write_slot(request: Request) -> AsyncIterator[None]:
    # Waiting here costs no thread; the slot is released after the unit's commit.
    async with request.app.state.write_slots:
        yield


def _read_session(database: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    with database.session() as session:
        yield session


def _write_session(
    _slot: Annotated[None, Depends(_write_slot, scope="function")],
    database: Annotated[Database, Depends(get_database)],
) -> Iterator[Session]:
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

    async def _set(response: Response) -> None:
        response.headers["Cache-Control"] = value

    _set.cache_control = value  # type: ignore[attr-defined]  # documented by api.openapi
    return Depends(_set)


PUBLIC_CACHE_VALUE = "public, max-age=60, stale-while-revalidate=300"
PUBLIC_CACHE = cache_control(PUBLIC_CACHE_VALUE)
