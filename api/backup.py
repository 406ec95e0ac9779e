"""`advocacy backup`: a consistent copy of a SQLite database, taken while it serves.

SQLite's online backup API copies the pages under a read transaction: in WAL mode (api.db)
writers go on meanwhile, and the copy is the database as of the moment the copy began. The
copy is written beside PATH, checked, flushed to disk, and only then renamed to PATH, so a
crash mid-backup never leaves a half-written file under the name an operator restores from.

PostgreSQL has its own tools for this (pg_dump / pg_restore; README "Backups").
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    pass


class NotSqlite(BackupError):
    """The database is not SQLite: its server's own tools copy it."""


def backup_sqlite(database_url: str, target: Path) -> int:
    """Copy the SQLite database at `database_url` to `target`; returns its size in bytes."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise NotSqlite(f"{url.get_backend_name()} is not SQLite")
    source_path = url.database
    if not source_path or source_path == ":memory:" or not Path(source_path).exists():
        raise BackupError(f"no SQLite database file at {source_path!r}")
    target = target.resolve()
    if target == Path(source_path).resolve():
        raise BackupError("the backup cannot overwrite the database itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(source_path, timeout=30)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # all pages in one step: one consistent snapshot
            (verdict,) = copy.execute("PRAGMA quick_check").fetchone()
            if verdict != "ok":
                raise BackupError(f"the copy failed its check: {verdict}")
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            copy.close()
    finally:
        source.close()
    with open(partial, "rb") as written:
        os.fsync(written.fileno())
    os.replace(partial, target)
    return target.stat().st_size
