"""The signing writer's cost per signature, in process: group commit's unit for signing
(`sign_many` in one write transaction, committed) on a fresh SQLite database, no server.

    .venv/bin/python -m bench.writer                # batches of 32, 300 of them
    BENCH_WRITER_BATCH=24 BENCH_WRITER_BATCHES=500 .venv/bin/python -m bench.writer

On SQLite the writers of every process take turns on one write lock, so what a batch costs
the writer while it holds the lock bounds the signing rate: this prints the wall time and this
thread's CPU per signature, each phase's (the work, `sign_many`; the commit) wall and CPU time
per batch, and the commits' times (the slow ones are those that checkpoint the WAL). The
requests are made (`SignRequest.of`: hashes, ZIP, tokens) before the clock starts, as the
event loop makes them before they are queued. `BENCH_WRITER_URL` measures another database
(PostgreSQL: a fresh database is created on that server and dropped).

On SQLite, `BENCH_WRITER_PAGES=1` also prints how many pages each commit wrote to the WAL
(checkpoints off, so the commit times leave theirs out), and `BENCH_WRITER_WITHOUT=<index>,...`
drops those indexes first: what each one costs a batch.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.datagen import DEFAULT_SLUG, ZIPS
from bench.servers import SECRET_KEY, fresh_database, postgres_admin_url, prepare, service_env


def main() -> None:
    batch_size = int(os.environ.get("BENCH_WRITER_BATCH", "32"))
    batches = int(os.environ.get("BENCH_WRITER_BATCHES", "300"))
    kind = (
        "postgresql" if os.environ.get("BENCH_WRITER_URL", "").startswith("postgres") else "sqlite"
    )
    if kind == "postgresql":
        os.environ["BENCH_PG_URL"] = os.environ["BENCH_WRITER_URL"]
        assert postgres_admin_url() is not None, "PostgreSQL is not reachable"
    with tempfile.TemporaryDirectory() as directory, fresh_database(kind, Path(directory)) as url:
        env = service_env(url, Path(directory) / "var", SECRET_KEY=SECRET_KEY)
        prepare(env)
        os.environ.update(env)
        measure(batch_size, batches, kind)


def measure(batch_size: int, batches: int, kind: str) -> None:
    from api.caches import Caches
    from api.config import get_settings
    from api.db import Database
    from api.main import build_caches
    from api.petitions.router import recipient_limit
    from api.petitions.schemas import SignatureCreate
    from api.petitions.signing import SigningContext, SignRequest, sign_many

    settings = get_settings()
    caches: Caches = build_caches(settings)
    database = Database(settings, caches)
    wal = _count_wal_pages(database)
    without = [name for name in os.environ.get("BENCH_WRITER_WITHOUT", "").split(",") if name]
    if without:
        with database.engine.begin() as connection:
            for index in without:  # what-if: the rows' cost without this index
                connection.exec_driver_sql(f'DROP INDEX "{index}"')
    context = SigningContext(
        secret=settings.secret(),
        public_base_url=settings.public_base_url,
        client_ip="203.0.113.7",
        recipient_limit=recipient_limit(settings.mail_recipient_limit),
    )

    def request(n: int) -> SignRequest:
        data = SignatureCreate.model_validate(
            {
                "first_name": "Bench",
                "last_name": "Writer",
                "email": f"writer.{n}@example.org",
                "postal_code": ZIPS[n % len(ZIPS)],
                "country": "US",
                "comment": "Benchmark signature.",
                "display_publicly": True,
                "locale": "en",
            }
        )
        return SignRequest.of(DEFAULT_SLUG, data, context)

    work = [[request(b * batch_size + i) for i in range(batch_size)] for b in range(batches)]
    commits: list[float] = []
    # (wall, CPU) seconds of each phase, summed: the work (sign_many) and the commit.
    phases = {"work": [0.0, 0.0], "commit": [0.0, 0.0]}
    wall, cpu = time.perf_counter(), time.thread_time()
    for requests in work:
        with database.session(write=True) as session:
            # As group commit runs a batch that is one signing run alone: no SAVEPOINT.
            with _timed(phases["work"]):
                outcomes = sign_many(session, requests)
            assert not any(outcomes), outcomes
            started = time.perf_counter()
            with _timed(phases["commit"]):
                session.commit()
            commits.append(time.perf_counter() - started)
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    if wal is not None:
        print(f"WAL pages per commit: {wal() / batches:.1f} (checkpoints off; BENCH_WRITER_PAGES)")
    database.dispose()
    signatures = batch_size * batches
    commits.sort()
    print(
        "per batch: "
        + ", ".join(
            f"{name} {spent[0] / batches * 1e3:.2f} ms ({spent[1] / batches * 1e3:.2f} ms CPU)"
            for name, spent in phases.items()
        )
    )
    print(
        f"{kind}: {batches} batches of {batch_size}: "
        f"{wall / signatures * 1e6:.0f} us wall, "
        f"{cpu / signatures * 1e6:.0f} us CPU per signature; "
        f"commit p50 {commits[len(commits) // 2] * 1e3:.2f} ms, "
        f"p90 {commits[int(len(commits) * 0.9)] * 1e3:.2f} ms, max {commits[-1] * 1e3:.2f} ms"
    )


def _count_wal_pages(database: Any) -> Callable[[], float] | None:
    """With BENCH_WRITER_PAGES=1 on SQLite: checkpoints off, and a function that tells how
    many pages the commits since wrote to the WAL (each page a frame of the log, written and
    synced at the commit, then copied to the database by a checkpoint)."""
    if not os.environ.get("BENCH_WRITER_PAGES") or not database.is_sqlite:
        return None
    from sqlalchemy import event

    event.listen(
        database.engine,
        "connect",
        lambda connection, _record: connection.execute("PRAGMA wal_autocheckpoint=0"),
    )
    database.engine.dispose()
    path = database.engine.url.database
    with database.engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        page = connection.exec_driver_sql("PRAGMA page_size").scalar()
    start = os.path.getsize(path + "-wal")
    return lambda: (os.path.getsize(path + "-wal") - start) / (page + 24)  # frame header


@contextlib.contextmanager
def _timed(spent: list[float]) -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.thread_time()
    try:
        yield
    finally:
        spent[0] += time.perf_counter() - wall
        spent[1] += time.thread_time() - cpu


if __name__ == "__main__":
    main()
