"""The schema is made only by migrations, and the migrations match the models."""

from __future__ import annotations

import os
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, pool

from api.db import metadata
from api.migrate import downgrade, upgrade
from tests.databases import create_database, drop_database


def _diff(url: str) -> list:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_models_and_migrations_agree_and_round_trip(tmp_path: Path) -> None:
    url = create_database(os.environ.get("TEST_DATABASE_URL"), tmp_path)
    try:
        upgrade(url)
        assert _diff(url) == []
        assert _tables(url) == set(metadata.tables)
        downgrade(url, "base")
        assert _tables(url) == set()
        upgrade(url)
        assert _diff(url) == []
    finally:
        drop_database(url)
