"""Fixtures of the fault-injection suite: real server processes, a PostgreSQL cluster of the
suite's own, and a bounded signing load that records what every request got.

Every test here is marked `faults` (run alone with `pytest -m faults`); they run in the default
suite too. Servers are started the production way (bench.servers: `advocacy migrate`, `seed`; then
tests.servers: `advocacy serve`), each logging to a file the test can read.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.servers import prepare, service_env
from tests.databases import _libpq, create_database, drop_database
from tests.faults.cluster import PostgresCluster
from tests.servers import Server

SLUG = "florida-minimum-arrest-age-12"
PROBLEM = "application/problem+json"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of the suite's own on a free port (never the shared server).
    Its folder is directly under the system's temporary folder: the `postgres` user must be
    able to reach it, and pytest's own folders are private to the user running the tests."""
    cluster = PostgresCluster(Path(tempfile.mkdtemp(prefix="advocacy-faults-pg-")))
    cluster.init()
    cluster.start()
    cluster.wait_ready()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated and seeded database on the suite's cluster that tests copy (8 s saved each:
    `advocacy migrate` and `seed` are two process starts)."""
    url = create_database(pg_cluster.admin_url, tmp_path_factory.mktemp("pg-template"))
    prepare(service_env(url, tmp_path_factory.mktemp("pg-template-var")))
    return url


@pytest.fixture
def pg_database(pg_cluster: PostgresCluster, pg_template: str) -> Iterator[str]:
    """A fresh copy of the template on the suite's cluster, which is running again after the
    test (a test may have stopped or frozen it)."""
    name = f"faults_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(pg_cluster.admin_url), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(pg_template).database}"')
    url = make_url(pg_template).set(database=name).render_as_string(hide_password=False)
    yield url
    pg_cluster.thaw()
    if not pg_cluster.pids():
        pg_cluster.start()
    pg_cluster.wait_ready()
    drop_database(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    prepare(service_env(f"sqlite:///{path}", path.parent))
    return path


@pytest.fixture
def sqlite_copy(sqlite_template: Path) -> Callable[[Path], str]:
    """Copy the migrated, seeded SQLite template into a folder; its URL."""

    def copy(folder: Path) -> str:
        shutil.copyfile(sqlite_template, folder / "faults.db")
        return f"sqlite:///{folder / 'faults.db'}"

    return copy


class Service:
    """`advocacy serve` on a migrated, seeded database, started and restarted with the same
    settings."""

    def __init__(self, database_url: str, var_dir: Path, **env: str) -> None:
        self.log_path = var_dir / "server.log"
        self.server = Server(service_env(database_url, var_dir, **env), self.log_path)
        self.database_url = database_url

    @property
    def base_url(self) -> str:
        return self.server.url

    def start(self) -> None:
        self.server.start()

    def kill(self) -> None:
        """kill -9 of the whole process group: no shutdown code runs."""
        self.server.kill()

    def stop(self) -> None:
        """At the end of a test: at once (a graceful stop waits for open streams)."""
        self.server.stop()

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def scalar(self, sql: str, **params: object) -> int:
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return int(connection.execute(text(sql), params).scalar_one())
        finally:
            engine.dispose()


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """Start `advocacy serve` on DATABASE_URL with extra settings; stopped after the test."""
    services: list[Service] = []

    def start(database_url: str, **env: str) -> Service:
        var_dir = tmp_path / f"var-{len(services)}"
        var_dir.mkdir()
        service = Service(database_url, var_dir, **env)
        services.append(service)
        service.start()
        return service

    yield start
    for service in services:
        service.stop()


@dataclass
class Outcome:
    path: str
    email: str | None
    status: int | None  # None: no response (connection dropped, timeout)
    content_type: str = ""
    retry_after: str | None = None
    body: str = ""
    seconds: float = 0.0
    error: str | None = None


def signer(email: str) -> dict[str, object]:
    return {
        "first_name": "Fault",
        "last_name": "Tester",
        "email": email,
        "postal_code": "32801",
        "country": "US",
        "display_publicly": False,
        "locale": "en",
    }


@dataclass
class Load:
    """Threads that sign (and read) as fast as the server answers, each with its own client,
    until stopped or `max_requests` is reached. Every outcome is kept."""

    base_url: str
    threads: int = 6
    max_requests: int = 3000
    timeout: float = 30.0
    read_paths: tuple[str, ...] = ()
    label: str = field(default_factory=lambda: f"f{uuid.uuid4().hex[:8]}")
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)
    _issued: int = 0

    def start(self) -> Load:
        self._workers = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.threads)
        ]
        for worker in self._workers:
            worker.start()
        return self

    def stop(self) -> list[Outcome]:
        self._stop.set()
        return self.finish()

    def finish(self) -> list[Outcome]:
        """Wait until `max_requests` are answered (or the load is stopped)."""
        for worker in self._workers:
            worker.join(self.timeout + 5)
        return self.outcomes

    def _next(self) -> int | None:
        with self._lock:
            if self._stop.is_set() or self._issued >= self.max_requests:
                return None
            self._issued += 1
            return self._issued

    def _run(self, n: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as client:
            while (i := self._next()) is not None:
                paths = (f"/v1/petitions/{SLUG}/signatures", *self.read_paths)
                path = paths[i % len(paths)]
                email = f"{self.label}.{i}@example.org" if "signatures" in path else None
                self._record(client, path, email)

    def _record(self, client: httpx.Client, path: str, email: str | None) -> None:
        started = time.monotonic()
        try:
            if email is not None:
                response = client.post(path, json=signer(email))
            else:
                response = client.get(path)
        except httpx.HTTPError as exc:
            outcome = Outcome(path, email, None, error=type(exc).__name__)
            time.sleep(0.05)
        else:
            outcome = Outcome(
                path,
                email,
                response.status_code,
                response.headers.get("content-type", ""),
                response.headers.get("retry-after"),
                response.text[:500],
            )
        outcome.seconds = time.monotonic() - started
        with self._lock:
            self.outcomes.append(outcome)

    def acknowledged(self) -> set[str]:
        return {o.email for o in self.outcomes if o.status == 202 and o.email}


def wait_for(condition: Callable[[], bool], timeout: float, what: str, seen: object = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what} (last seen: {seen!r:.1000})")
        time.sleep(0.1)


def get_status(url: str, timeout: float = 5.0) -> int | None:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, timeout=timeout).status_code
    return None


def assert_clean_503s(outcomes: list[Outcome], allowed: set[int]) -> list[Outcome]:
    """Every request got an answer, only `allowed` statuses or 503, and every 503 is problem+json
    with Retry-After. Returns the 503s."""
    dropped = [o for o in outcomes if o.status is None]
    assert not dropped, f"{len(dropped)} requests got no response, e.g. {dropped[:3]}"
    unexpected = [o for o in outcomes if o.status not in allowed | {503}]
    assert not unexpected, f"unexpected answers, e.g. {unexpected[:3]}"
    unavailable = [o for o in outcomes if o.status == 503]
    for outcome in unavailable:
        assert outcome.content_type == PROBLEM, outcome
        assert outcome.retry_after and outcome.retry_after.isdigit(), outcome
        assert "service-unavailable" in outcome.body, outcome
    return unavailable
