"""Backups taken while a real server takes signatures hold every signature acknowledged before
the backup began: `advocacy backup` on SQLite, pg_dump / pg_restore on PostgreSQL."""

from __future__ import annotations

import glob
import sqlite3
import subprocess
import time
import uuid

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.ops.servers import ADVOCACY, SignLoad, process_env, stored_emails
from tests.servers import running_server


def _backend(url: str) -> str:
    return make_url(url).get_backend_name()


def _backup_under_load(settings, tmp_path, command: list[str]) -> tuple[set[str], set[str]]:
    """Run `command` (a backup) while a real 2-worker server takes signatures.

    Returns the addresses acknowledged (202) before the backup began, and all acknowledged."""
    env = process_env(settings.database_url, tmp_path)
    with (
        running_server(env, tmp_path / "server.log", workers=2) as server,
        SignLoad(server.url, "backup") as load,
    ):
        load.wait_for(30)
        began = time.monotonic()
        done = subprocess.run(command, env=env, capture_output=True, timeout=120)
        load.wait_for(len(load.accepted) + 10)  # still signing after the backup
        load.stop()
        assert server.terminate() == 0
    assert done.returncode == 0, done.stderr
    before = {e for e, at in zip(load.accepted, load.accepted_at, strict=True) if at < began}
    assert len(before) >= 30
    return before, set(load.accepted)


def test_sqlite_backup_while_serving(settings, clean_database, tmp_path):
    if _backend(settings.database_url) != "sqlite":
        pytest.skip("SQLite backup: this run's database is PostgreSQL (see the pg_dump test)")
    copy = tmp_path / "backups" / "advocacy.db"
    before, accepted = _backup_under_load(settings, tmp_path, [str(ADVOCACY), "backup", str(copy)])
    restored = sqlite3.connect(copy)
    try:
        assert restored.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        in_copy = {row[0] for row in restored.execute("SELECT email FROM signature")}
    finally:
        restored.close()
    assert before <= in_copy
    assert len(in_copy) < len(accepted)  # a snapshot, not the database after the fact
    assert accepted <= stored_emails(settings.database_url)


def test_backup_refuses_postgresql_and_points_at_pg_dump(tmp_path):
    env = process_env("postgresql+psycopg://postgres@127.0.0.1:1/none", tmp_path)
    done = subprocess.run(
        [str(ADVOCACY), "backup", str(tmp_path / "x.db")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "pg_dump" in done.stderr
    assert not (tmp_path / "x.db").exists()


def _pg_tool(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert found, f"{name} is missing (Debian package postgresql-client)"
    return found[-1]


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_pg_dump_and_restore_while_serving(settings, clean_database, tmp_path):
    if _backend(settings.database_url) != "postgresql":
        pytest.skip("pg_dump backup: this run's database is SQLite (see the SQLite test)")
    dump = tmp_path / "advocacy.dump"
    source = _libpq(settings.database_url)
    # As the README says: a custom-format dump, one consistent snapshot, taken while serving.
    before, _ = _backup_under_load(
        settings, tmp_path, [_pg_tool("pg_dump"), "--format=custom", f"--file={dump}", source]
    )
    restored_name = f"advocacy_restore_{uuid.uuid4().hex[:10]}"
    admin = make_url(source).set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{restored_name}"')
    target = make_url(source).set(database=restored_name).render_as_string(hide_password=False)
    try:
        restored = subprocess.run(
            [_pg_tool("pg_restore"), "--no-owner", f"--dbname={target}", str(dump)],
            capture_output=True,
            timeout=120,
        )
        assert restored.returncode == 0, restored.stderr
        with psycopg.connect(target) as connection:
            in_copy = {row[0] for row in connection.execute("SELECT email FROM signature")}
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{restored_name}" WITH (FORCE)')
    assert before <= in_copy
