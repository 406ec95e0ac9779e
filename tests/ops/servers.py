"""Real `advocacy` processes for the operations tests: a server on a free port, a worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ADVOCACY = Path(sys.executable).parent / "advocacy"
METRICS_TOKEN = "metrics-token-for-tests-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, then wait for the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def metrics(self) -> str:
        response = httpx.get(
            f"{self.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
        )
        response.raise_for_status()
        return response.text


@contextmanager
def running_server(
    env: dict[str, str],
    log: Path,
    *,
    workers: int = 1,
    command: list[str] | None = None,
    cwd: Path | None = None,
) -> Iterator[Server]:
    """`advocacy serve --workers N` on a free port, ready (every worker answering) when yielded;
    killed at the end if it is still running."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**env, "PUBLIC_BASE_URL": url}
    argv = command or [str(ADVOCACY)]
    argv = [*argv, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with open(log, "ab") as log_file:
        process = subprocess.Popen(
            argv, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=cwd
        )
    server = Server(process, url, log)
    try:
        _wait_ready(server, workers)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _wait_ready(server: Server, workers: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    answered = 0
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited: {server.log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                answered += 1
                # Each worker imports the app on its own: give the others a moment too.
                if answered >= 3 * workers:
                    return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not become ready: {server.log.read_text()[-2000:]}")


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
