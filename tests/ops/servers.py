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
        if key not in ("PROMETHEUS_MULTIPROC_DIR", "TEST_DATABASE_URL")
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
    env: dict[str, str], log: Path, *, workers: int = 1, command: list[str] | None = None
) -> Iterator[Server]:
    """`advocacy serve --workers N` on a free port, ready (every worker answering) when yielded;
    killed at the end if it is still running."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**env, "PUBLIC_BASE_URL": url}
    argv = command or [str(ADVOCACY)]
    argv = [*argv, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with open(log, "ab") as log_file:
        process = subprocess.Popen(argv, env=env, stdout=log_file, stderr=subprocess.STDOUT)
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
