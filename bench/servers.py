"""Fresh databases and the service's processes, started the production way.

Each server is `advocacy serve --workers N` (after `advocacy migrate` and `advocacy seed`) in its
own process group, with ENVIRONMENT=production, a SECRET_KEY, RATE_LIMIT_ENABLED=false and
SSE_MAX_STREAMS_PER_CLIENT at its maximum (all load comes from one address), and
LOG_LEVEL=WARNING (one access-log line per request is not what is measured). Only 127.0.0.1 is
used.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.databases import create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ADVOCACY = str(BIN / "advocacy")
SECRET_KEY = "bench-secret-key-not-for-production-0123456789"
DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_admin_url() -> str | None:
    """The PostgreSQL server to benchmark on, if one answers (BENCH_PG_URL, else the local
    default); None when none does."""
    url = os.environ.get("BENCH_PG_URL", DEFAULT_PG_ADMIN_URL)
    if url in ("", "none", "off"):
        return None
    try:
        import psycopg
        from sqlalchemy.engine import make_url

        libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(libpq, connect_timeout=3):
            return url
    except Exception:
        return None


@contextlib.contextmanager
def fresh_database(kind: str, work_dir: Path) -> Iterator[str]:
    """A new empty database ("sqlite" or "postgresql"), dropped afterwards."""
    if kind == "sqlite":
        work_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{work_dir / f'bench-{uuid.uuid4().hex[:8]}.db'}"
    else:
        admin = postgres_admin_url()
        if admin is None:
            raise RuntimeError("PostgreSQL is not reachable")
        url = create_database(admin, work_dir)
    try:
        yield url
    finally:
        drop_database(url)
        if kind == "sqlite":
            path = url.removeprefix("sqlite:///")
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path + suffix)


def service_env(database_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "SMTP_", "REDIS_", "MAIL_", "RATE_LIMIT"))
    }
    env.update(
        ENVIRONMENT="production",
        SECRET_KEY=SECRET_KEY,
        DATABASE_URL=database_url,
        RATE_LIMIT_ENABLED="false",
        SSE_MAX_STREAMS_PER_CLIENT="10000",
        LOG_LEVEL="WARNING",
        VAR_DIR=str(var_dir),
        MAIL_DIR=str(var_dir / "mail"),
        MAIL_WORKER_IN_PROCESS="false",
        PUBLIC_BASE_URL="http://127.0.0.1:8000",
    )
    env.update(extra)
    return env


def run_cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([ADVOCACY, *args], env=env, cwd=ROOT, capture_output=True, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace")
        raise RuntimeError(f"advocacy {' '.join(args)} failed:\n{output[-3000:]}")


def prepare(env: dict[str, str]) -> None:
    """Migrate once, then seed: what an operator does before starting servers."""
    run_cli(env, "migrate")
    run_cli(env, "seed")


def process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
    return pids


def _status_kib(pid: int, name: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Server:
    """One `advocacy serve` (or `advocacy worker`) process group."""

    env: dict[str, str]
    port: int = 0
    workers: int = 2
    log_path: Path | None = None
    command: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready_seconds: float | None = None  # from start to the first 200 of wait_ready

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if not self.command:
            self.port = self.port or free_port()
            self.command = [
                ADVOCACY,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ]
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0, path: str = "/readyz") -> float:
        """Seconds from start to the first 200 on `path`."""
        assert self.process is not None
        deadline = time.perf_counter() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited with {self.process.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.base_url + path).status_code == 200:
                        self.ready_seconds = time.perf_counter() - self.started_at
                        return self.ready_seconds
                time.sleep(0.01)
        raise TimeoutError(f"{self.base_url}{path} not ready within {timeout}s")

    def worker_pids(self) -> set[int]:
        """The processes the server started (its workers), as they are now."""
        if self.process is None or self.process.poll() is not None:
            return set()
        return set(process_tree(self.process.pid)) - {self.process.pid}

    def rss_kib(self) -> int:
        """Resident memory of the whole process tree now."""
        assert self.process is not None
        return sum(_status_kib(pid, "VmRSS") for pid in process_tree(self.process.pid))

    def largest_rss_kib(self) -> int:
        """Resident memory of the largest single process in the tree now."""
        assert self.process is not None
        return max(_status_kib(pid, "VmRSS") for pid in process_tree(self.process.pid))

    def peak_rss_kib(self) -> int:
        """The largest peak (VmHWM) of any one process in the tree."""
        assert self.process is not None
        return max(_status_kib(pid, "VmHWM") for pid in process_tree(self.process.pid))

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
