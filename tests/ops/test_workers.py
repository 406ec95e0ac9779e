"""`advocacy serve --workers N`: the workers are forked from a supervisor that built the app
once (api.cli serve), and a worker that dies is replaced, forked the same way."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from tests.ops.servers import process_env
from tests.petitions.helpers import SIGN_URL, signer
from tests.servers import running_server


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return sorted(found)


def _command_line(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def test_workers_are_forked_from_the_built_app_and_replaced_when_killed(
    settings, clean_database, tmp_path
):
    env = process_env(settings.database_url, tmp_path)
    with running_server(env, tmp_path / "server.log", workers=2) as server:
        assert server.process is not None
        supervisor = server.process.pid
        workers = _children(supervisor)
        assert len(workers) == 2, workers
        # A spawned worker is a new interpreter (`python -c "from multiprocessing.spawn import
        # spawn_main; ..."`) that imports everything again; a forked one is a copy of the
        # supervisor, command line included.
        for pid in workers:
            assert _command_line(pid) == _command_line(supervisor)

        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = _children(supervisor)
            if len(now) == 2 and workers[0] not in now:
                break
            time.sleep(0.1)
        replacement = [pid for pid in _children(supervisor) if pid not in workers]
        assert len(replacement) == 1, (tmp_path / "server.log").read_text()[-2000:]
        assert _command_line(replacement[0]) == _command_line(supervisor)

        # Both workers serve: a run of requests is answered, signatures included.
        for i in range(20):
            body = signer(email=f"after-restart-{i}@example.org")
            response = httpx.post(f"{server.url}{SIGN_URL}", json=body, timeout=30)
            assert response.status_code == 202, response.text
        assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200
