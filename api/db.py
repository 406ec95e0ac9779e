"""Engine and session factory, built from settings (never at import time).

One request is one unit of work: `Database.session` commits on success and rolls back on error.
Services flush, never commit; what they make stale is forgotten after the commit (api.caches).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    DateTime,
    Dialect,
    Engine,
    MetaData,
    Table,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel

from api.availability import DependencyState
from api.caches import SESSION_CACHES, Caches, invalidate_committed
from api.config import Settings

# Set before any model is defined so every constraint has a predictable name that
# migrations can drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata

WRITE_OPTION = "advocacy_write"
# A write that need not wait for the disk: see Database.process_durable_session.
PROCESS_DURABLE_OPTION = "advocacy_process_durable"


def table_of(model: type[SQLModel]) -> Table:
    """A model's table, for Core statements on hot paths (no ORM objects made or flushed)."""
    table: Table = inspect(model).local_table
    return table


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timestamp always in UTC, aware on the way out, on SQLite (no time zones) as on
    PostgreSQL (timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use api.db.utcnow()")
        value = value.astimezone(dt.UTC)
        # SQLite compares timestamps as text: store them all in one (naive UTC) form.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# A hung server (frozen, or a network that drops packets) answers no statement at all, so its
# own statement_timeout never fires: the client gives up a little after it instead.
CLIENT_GRACE_SECONDS = 2.0


def build_engine(settings: Settings) -> Engine:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(settings)
    statement_ms = int(settings.db_statement_timeout_seconds * 1000)
    # force_custom_plan: every statement is planned for its values and the tables as they are.
    # psycopg prepares a statement run a few times, and PostgreSQL then settles on one generic
    # plan per connection, kept until the table's statistics change: where nothing has gathered
    # them (autovacuum off or behind, a new database), a lookup first planned on an empty
    # table keeps its sequential scan as the table grows. Measured under `bench.profile`'s
    # signing (auto_explain): the mail cap's lookup took 8-47 ms per batch on one worker's
    # connection and ~1 ms on the other's; planned each time, ~1 ms on both.
    engine = create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_pre_ping=True,
        pool_timeout=settings.db_connect_timeout_seconds,
        connect_args={
            "connect_timeout": settings.db_connect_timeout_seconds,
            "options": f"-c statement_timeout={statement_ms} -c plan_cache_mode=force_custom_plan",
        },
    )
    if url.get_driver_name() == "psycopg":
        bounded = _bounded_psycopg_connection(
            settings.db_statement_timeout_seconds + CLIENT_GRACE_SECONDS
        )

        @event.listens_for(engine, "do_connect")
        def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
            return bounded.connect(*cargs, **cparams)

    return engine


def _bounded_psycopg_connection(seconds: float) -> Any:
    """A psycopg connection class on which every round trip (query, fetch, commit, ping)
    gives up after `seconds`, closing the connection (its state is unknown: never reused)."""
    import psycopg
    from psycopg import errors
    from psycopg.connection import _WAIT_INTERVAL

    class BoundedConnection(psycopg.Connection[Any]):
        def wait(
            self, gen: Any, interval: float = _WAIT_INTERVAL, timeout: float | None = None
        ) -> Any:
            try:
                return super().wait(gen, interval, seconds if timeout is None else timeout)
            except errors._WaitTimeout as exc:
                self.close()
                raise errors.OperationalError(
                    f"no answer from the database within {seconds:g} s"
                ) from exc

    return BoundedConnection


def ensure_sqlite_directory(database_url: str) -> None:
    """SQLite creates the file but not its folder; make the folder."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_engine(settings: Settings) -> Engine:
    ensure_sqlite_directory(settings.database_url)
    url = make_url(settings.database_url)
    engine = create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=0,
        connect_args={
            "check_same_thread": False,
            "timeout": settings.db_statement_timeout_seconds,
        },
    )
    busy_ms = int(settings.db_statement_timeout_seconds * 1000)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN itself, so writes can take the
        # write lock up front (BEGIN IMMEDIATE) instead of failing later on lock upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged write is on disk even if the machine loses power.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        # Statement and savepoint journals in memory: a group-commit batch's statements
        # outgrow the 64 KiB SQLite keeps in memory, and the rest went through a temporary
        # file (open, write, unlink) inside the write lock, every batch.
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get(PROCESS_DURABLE_OPTION, False):
            # In WAL mode NORMAL commits without an fsync: the write survives a crash of this
            # process (the OS holds it), not a power cut. Reset on check-in, below.
            connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
            connection.connection.info[PROCESS_DURABLE_OPTION] = True
        write = options.get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    @event.listens_for(engine, "checkin")
    def _restore_full_durability(dbapi_connection: Any, record: Any) -> None:
        if record is not None and record.info.pop(PROCESS_DURABLE_OPTION, False):
            dbapi_connection.execute("PRAGMA synchronous=FULL")

    return engine


def is_database_outage(exc: BaseException) -> bool:
    """Whether an error says the database is unreachable, hung, out of space or overloaded
    (the driver's "operational" errors, a lost connection, no pooled connection in time)
    rather than that a statement is wrong."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def is_transaction_conflict(exc: BaseException) -> bool:
    """Whether an error says this transaction lost to another (a deadlock, a serialization
    failure: SQLSTATE class 40) rather than that the database is out: the same work tried
    again succeeds."""
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return isinstance(exc, DBAPIError) and isinstance(sqlstate, str) and sqlstate[:2] == "40"


_CONNECTED = "advocacy_connected"


@event.listens_for(Session, "after_begin")
def _note_connected(session: Session, _transaction: Any, _connection: Any) -> None:
    session.info[_CONNECTED] = True


class Database:
    """The engine for the configured database, and units of work on it.

    Every unit of work carries `caches` (the app's registry, api.caches): services reach the
    caches of what they read through it, and the caches a unit makes stale forget after its
    commit."""

    def __init__(self, settings: Settings, caches: Caches | None = None) -> None:
        self.caches = caches if caches is not None else Caches()
        self._session_info = {SESSION_CACHES: self.caches}
        self.engine = build_engine(settings)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._write_engine = self.engine.execution_options(**{WRITE_OPTION: True})
        self.availability = DependencyState(
            "database", is_database_outage, is_conflict=is_transaction_conflict
        )

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A unit of work: commit if the block succeeds, roll back if it raises.

        `write=True` takes SQLite's write lock at BEGIN; on PostgreSQL it changes nothing.
        While the database is down, raises `DependencyUnavailable` at once (but for one trial
        a second): see api.availability.
        """
        self.availability.admit(write=write)
        bind = self._write_engine if write else self.engine
        with Session(bind, expire_on_commit=False, info=self._session_info) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            invalidate_committed(session)
            if session.info.get(_CONNECTED):  # only a unit that reached the database tells
                self.availability.recovered(write=write)

    @contextmanager
    def process_durable_session(self) -> Iterator[Session]:
        """A write unit whose commit does not wait for the disk: it survives a crash of this
        process but maybe not of the machine. Only for records whose loss repeats harmless
        work (the mail ledger: a lost "sent" re-sends a message with its same Message-ID)."""
        bind = self._write_engine.execution_options(**{PROCESS_DURABLE_OPTION: True})
        with Session(bind, expire_on_commit=False, info=self._session_info) as session:
            try:
                if not self.is_sqlite:
                    session.execute(text("SET LOCAL synchronous_commit TO OFF"))
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            invalidate_committed(session)

    def dispose(self) -> None:
        self.engine.dispose()
