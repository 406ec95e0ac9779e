"""Shared fixtures.

The suite runs on SQLite by default, and on PostgreSQL when TEST_DATABASE_URL names a server
(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres): it creates its own database there
and drops it at the end. Migrations run once per session; every test starts from the seeded
state.
"""

from __future__ import annotations

import email
import email.policy
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import delete

from api.cli import SEED_DIR
from api.cli.seeding import load_seed
from api.config import Settings
from api.db import Database, metadata
from api.mail.worker import MailWorker, backend_for
from api.main import create_app
from api.migrate import upgrade
from tests.databases import create_database, drop_database

# The source texts stand beside the repository (../shared/seeds); SEEDS_DIR names them when the
# checkout is elsewhere (a git worktree).
SEEDS_DIR = Path(
    os.environ.get("SEEDS_DIR")
    or Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"
)

# aiosmtpd logs every connection of the test SMTP sinks at INFO from its own threads, between
# tests, straight into the run's output: only its warnings matter here.
logging.getLogger("mail.log").setLevel(logging.WARNING)


# Rate limits count in fixed windows aligned to the clock (api.abuse.ratelimit), so a test that
# counts a few requests against a per-minute limit fails when a minute ends among them (one
# did: its first request at :59.948). Such a test starts with this much of the minute left.
RATE_WINDOW_MARGIN_SECONDS = 5.0


@pytest.fixture
def fresh_rate_limit_window() -> None:
    """Wait, if need be, until the current minute has RATE_WINDOW_MARGIN_SECONDS left."""
    left = 60 - time.time() % 60
    if left < RATE_WINDOW_MARGIN_SECONDS:
        time.sleep(left + 0.05)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = create_database(os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("db"))
    upgrade(url)
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    var_dir = tmp_path_factory.mktemp("var")
    return Settings(
        environment="test",
        database_url=database_url,
        secret_key="test-secret-key-not-for-production",
        var_dir=var_dir,
        mail_dir=var_dir / "mail",
        mail_worker_in_process=False,
        rate_limit_enabled=False,
        count_cache_seconds=0,
        response_cache_seconds=0,
        db_pool_size=20,
        thread_pool_size=20,
    )


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[Database]:
    database = Database(settings)
    yield database
    database.dispose()


def reset_database(database: Database) -> None:
    """Empty every table and load the seed again: each test starts from the same state.
    (Each app has its own caches: an app kept across a reset empties them, `caches.clear_all()`.)"""
    with database.session(write=True) as session:
        for table in reversed(metadata.sorted_tables):
            session.execute(delete(table))
        load_seed(session, SEED_DIR)


@pytest.fixture
def clean_database(database: Database) -> Iterator[Database]:
    reset_database(database)
    yield database


@pytest.fixture
def app(settings: Settings, clean_database: Database) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def api_schema(app: FastAPI):
    import schemathesis

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # No text field accepts NUL (U+0000): no database stores it, and the API answers 422
    # naming the field (tested in tests/test_errors.py). Generated valid data leaves it out.
    schema.config.generation.update(allow_x00=False)
    return schema


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives.

    It can be stopped and started again on the same port, to test delivery while it is down.
    """

    def __init__(self) -> None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        self._controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=5"

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def mail_settings(settings: Settings, smtp_server: SmtpSink) -> Settings:
    return settings.model_copy(update={"smtp_url": SecretStr(smtp_server.url)})


@pytest.fixture
def mail_worker(database: Database, mail_settings: Settings) -> MailWorker:
    return MailWorker(database, mail_settings, backend_for(mail_settings))


def link_in(message: EmailMessage, path: str) -> str:
    """The token of the first `{PUBLIC_BASE_URL}{path}?token=...` link in a mail's text."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = re.search(re.escape(path) + r"\?token=([A-Za-z0-9_-]+)", body.get_content())
    assert match, f"no {path} link in the mail"
    return match.group(1)
