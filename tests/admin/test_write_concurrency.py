"""Concurrent writes through `WriteSession` never starve the thread pool.

A sync write endpoint holds its transaction (SQLite's write lock, a PostgreSQL row lock) while
its commit waits for a free pool thread. If every pool thread is meanwhile blocked waiting for
that same lock, nothing moves: on SQLite until the 30 s busy timeout (then 500s), on
PostgreSQL for ever. Here more edits of one petition than there are pool threads arrive at once.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from api.config import Settings
from api.db import Database
from api.main import create_app
from tests.petitions.helpers import SLUG

POOL_THREADS = 4
EDITS = 24


def test_more_concurrent_edits_than_pool_threads_all_commit(
    settings: Settings, clean_database: Database, admin: dict[str, str]
) -> None:
    app = create_app(settings.model_copy(update={"thread_pool_size": POOL_THREADS}))
    with TestClient(app) as client, ThreadPoolExecutor(max_workers=EDITS) as pool:
        started = time.monotonic()
        futures = [
            pool.submit(
                client.patch,
                f"/v1/admin/petitions/{SLUG}",
                json={"goal": 100_000 + i},
                headers=admin,
            )
            for i in range(EDITS)
        ]
        # Before the fix this waited out SQLite's busy timeout (30 s) or, on PostgreSQL, for ever.
        statuses = [future.result(timeout=20).status_code for future in futures]
        elapsed = time.monotonic() - started
    assert statuses == [200] * EDITS
    assert elapsed < 20
    goals = {100_000 + i for i in range(EDITS)}
    with TestClient(create_app(settings)) as reader:
        final = reader.get(f"/v1/admin/petitions/{SLUG}", headers=admin).json()
    assert final["goal"] in goals
