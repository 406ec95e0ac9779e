"""Shared fixtures.

The suite runs on SQLite by default, and on PostgreSQL when TEST_DATABASE_URL names a server
(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres): it creates its own database there
and drops it at the end. Migrations run once per session; every test starts from the seeded
state.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete

from api.cli import SEED_DIR
from api.config import Settings
from api.db import Database, metadata
from api.main import create_app
from api.migrate import upgrade
from api.seed import load_seed
from tests.databases import create_database, drop_database

SEEDS_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"


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
        db_pool_size=20,
        thread_pool_size=20,
    )


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[Database]:
    database = Database(settings)
    yield database
    database.dispose()


def reset_database(database: Database) -> None:
    """Empty every table and load the seed again: each test starts from the same state."""
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

    return schemathesis.openapi.from_asgi("/openapi.json", app)
