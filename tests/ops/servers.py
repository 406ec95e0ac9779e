"""The environment of production-like processes for the operations tests, and what the tests
measure on them. The servers themselves: tests.servers."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx

ADVOCACY = Path(sys.executable).parent / "advocacy"
METRICS_TOKEN = "metrics-token-for-tests-0123456789"


def process_env(database_url: str, var_dir: Path, **overrides: str) -> dict[str, str]:
    """The environment of a production-like process on the test database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PROMETHEUS_MULTIPROC_DIR", "TEST_DATABASE_URL", "PYTHONPATH", "VIRTUAL_ENV")
    }
    env.update(
        {
            "ENVIRONMENT": "production",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "VAR_DIR": str(var_dir),
            "MAIL_DIR": str(var_dir / "mail"),
            "RATE_LIMIT_ENABLED": "false",
            "MAIL_WORKER_IN_PROCESS": "false",
            "METRICS_TOKEN": METRICS_TOKEN,
            "LOG_LEVEL": "WARNING",
        }
    )
    env.update(overrides)
    return env


def sample(exposition: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                total += found.value
    return total


class SignLoad:
    """Threads signing with fresh addresses until stopped (bounded by count and time); keeps
    the address of every signature answered 202, and every other outcome."""

    def __init__(self, url: str, prefix: str, *, threads: int = 6, limit: int = 600) -> None:
        import threading

        self.url = url
        self.prefix = prefix
        self.limit = limit
        self.accepted: list[str] = []
        self.accepted_at: list[float] = []
        self.other: list[str] = []
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> SignLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _run(self) -> None:
        from tests.petitions.helpers import SIGN_URL, signer

        deadline = time.monotonic() + 30
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                if self._next >= self.limit:
                    return
                number = self._next
                self._next += 1
            email = f"{self.prefix}-{number}@example.org"
            try:
                response = httpx.post(f"{self.url}{SIGN_URL}", json=signer(email=email), timeout=30)
            except httpx.ConnectError:
                time.sleep(0.05)  # the server is not listening (any more)
                continue
            except httpx.HTTPError as exc:
                with self._lock:
                    self.other.append(type(exc).__name__)
                continue
            with self._lock:
                if response.status_code == 202:
                    self.accepted.append(email)
                    self.accepted_at.append(time.monotonic())
                else:
                    self.other.append(str(response.status_code))

    def wait_for(self, accepted: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.accepted) < accepted:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.accepted)} signatures accepted: {self.other}")
            time.sleep(0.02)


def stored_emails(database_url: str) -> set[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT email FROM signature WHERE email IS NOT NULL"))
            return {row[0] for row in rows}
    finally:
        engine.dispose()
