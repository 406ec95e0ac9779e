"""Real `advocacy serve` processes for the tests that need one (tests/ops, tests/faults): on a
free port, in a process group of their own, logging to a file, ready when every worker answers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from bench.servers import ADVOCACY, _status_kib, free_port, process_tree


class Server:
    """`advocacy serve --workers N` (or `command ... serve`): started, and started again after
    a stop or a kill, on the same port."""

    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        *,
        workers: int = 1,
        command: list[str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Links the server writes point at itself unless the test says otherwise.
        self.env = {"PUBLIC_BASE_URL": self.url, **env}
        self.log = log
        self.workers = workers
        self.argv = [
            *(command or [ADVOCACY]),
            *("serve", "--host", "127.0.0.1", "--port", str(self.port)),
            *("--workers", str(workers)),
        ]
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        """Start, and return once ready."""
        with open(self.log, "ab") as log_file:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                start_new_session=True,
            )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        answered = 0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-2000:]}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    answered += 1
                    # Each worker imports the app on its own: give the others a moment too.
                    if answered >= 3 * self.workers:
                        return
            time.sleep(0.05)
        raise RuntimeError(f"the server did not become ready: {self.log.read_text()[-2000:]}")

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM (a graceful stop), then wait for the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """kill -9 of the whole process group: no shutdown code runs."""
        assert self.process is not None
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """At the end of a test: at once (a graceful stop waits for open streams)."""
        if self.process is not None and self.process.poll() is None:
            self.kill()

    def rss_kib(self) -> int:
        """Resident memory of the whole process tree now."""
        assert self.process is not None
        return sum(_status_kib(pid, "VmRSS") for pid in process_tree(self.process.pid))

    def metrics(self) -> str:
        """/metrics, with the token the server was given (METRICS_TOKEN)."""
        token = self.env["METRICS_TOKEN"]
        response = httpx.get(
            f"{self.url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
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
    """A ready server, killed at the end if it is still running."""
    server = Server(env, log, workers=workers, command=command, cwd=cwd)
    try:
        server.start()
        yield server
    finally:
        server.stop()
