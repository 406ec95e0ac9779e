"""Throwaway databases for tests: a SQLite file, or a fresh PostgreSQL database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import make_url

from api.config import Settings
from api.db import Database


def create_database(admin_url: str | None, tmp_dir: Path) -> str:
    """A new, empty database: PostgreSQL when `admin_url` names a server, else a SQLite file."""
    if not admin_url:
        return f"sqlite:///{tmp_dir / f'test-{uuid.uuid4().hex[:8]}.db'}"
    url = make_url(admin_url)
    name = f"advocacy_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(admin_url), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(_libpq(admin), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


def _libpq(sqlalchemy_url: str) -> str:
    url = make_url(sqlalchemy_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


UNREACHABLE_DATABASE_URL = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # nothing on port 1


def unreachable_settings(var_dir: Path, **extra: object) -> Settings:
    """Settings whose database refuses every connection (a stopped server)."""
    values: dict[str, object] = {
        "environment": "test",
        "database_url": UNREACHABLE_DATABASE_URL,
        "secret_key": "x",
        "var_dir": var_dir,
        "mail_worker_in_process": False,
        **extra,
    }
    return Settings(**values)  # type: ignore[arg-type]


@contextmanager
def statements_sent(database: Database) -> Iterator[list[str]]:
    """The statements the engine sends inside the block, whitespace folded, in lower case."""
    sent: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        sent.append(" ".join(statement.split()).lower())

    event.listen(database.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(database.engine, "before_cursor_execute", note)
