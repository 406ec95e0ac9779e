"""`advocacy serve --workers N`: the workers are forked from a supervisor that built the app
once (api.cli serve), and a worker that dies is replaced, forked the same way."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import httpx

from api.accepting import ConnectionShares
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
        # Said at WARNING (the level of this server's log), where uvicorn says it at INFO.
        log = (tmp_path / "server.log").read_text()
        assert f"worker process {workers[0]} was replaced: it was ended by signal 9" in log

        # Both workers serve: a run of requests is answered, signatures included.
        for i in range(20):
            body = signer(email=f"after-restart-{i}@example.org")
            response = httpx.post(f"{server.url}{SIGN_URL}", json=body, timeout=30)
            assert response.status_code == 202, response.text
        assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200


def test_a_hung_worker_is_replaced_and_said_so(settings, clean_database, tmp_path):
    """A worker that stops answering (here: stopped by SIGSTOP) is killed by the supervisor's
    health check and replaced; the log says which and why."""
    env = process_env(settings.database_url, tmp_path)
    with running_server(env, tmp_path / "server.log", workers=2) as server:
        assert server.process is not None
        supervisor = server.process.pid
        workers = _children(supervisor)
        os.kill(workers[1], signal.SIGSTOP)
        deadline = time.monotonic() + 30  # the health check waits 5 s for an answer
        while time.monotonic() < deadline and workers[1] in _children(supervisor):
            time.sleep(0.2)
        assert workers[1] not in _children(supervisor)
        log = (tmp_path / "server.log").read_text()
        assert (
            f"worker process {workers[1]} was replaced: the supervisor killed it: "
            "no answer to its health check"
        ) in log
        assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200


def _established_sockets(port: int) -> set[str]:
    """The inodes of the established TCP connections whose local port is `port`."""
    found: set[str] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
            found.add(fields[9])
    return found


def _connections_held(pid: int, port: int) -> int:
    established = _established_sockets(port)
    held = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            held += target.startswith("socket:[") and target[8:-1] in established
    return held


def test_the_workers_share_a_burst_of_connections_evenly(settings, clean_database, tmp_path):
    """A client that opens its keep-alive connections at once (a proxy's pool, a load test)
    gets them spread over the workers, not most of them on whichever worker woke first:
    one worker's core is then the limit while the other waits (api.accepting)."""
    env = process_env(settings.database_url, tmp_path)
    with running_server(env, tmp_path / "server.log", workers=2) as server:
        assert server.process is not None
        workers = _children(server.process.pid)
        port = int(server.url.rsplit(":", 1)[1])
        request = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        connections = []
        try:
            for _ in range(40):  # each asks at once, as a load test's connections do
                connection = socket.create_connection(("127.0.0.1", port), timeout=30)
                connection.sendall(request)
                connections.append(connection)
            for connection in connections:
                assert connection.recv(65536).startswith(b"HTTP/1.1 200")
            held = [_connections_held(pid, port) for pid in workers]
            assert sum(held) == 40, held
            assert max(held) - min(held) <= 2, held
        finally:
            for connection in connections:
                connection.close()


def _hold_a_slot(shares: ConnectionShares, count: int, claimed: Any, done: Any) -> None:
    shares.publish(shares.claim(), count)
    claimed.set()
    done.wait(30)


def test_a_worker_steps_aside_only_for_a_live_worker_with_fewer_connections():
    """The counts the workers share: a worker that is gone is not waited for, and its slot
    is taken by the next one."""
    fork = multiprocessing.get_context("fork")
    shares = ConnectionShares()
    mine = shares.claim()
    assert shares.fewest_elsewhere(mine) is None  # alone: never steps aside
    claimed, done = fork.Event(), fork.Event()
    other = fork.Process(target=_hold_a_slot, args=(shares, 3, claimed, done))
    other.start()
    try:
        assert claimed.wait(30)
        assert shares.fewest_elsewhere(mine) == 3
    finally:
        done.set()
        other.join(30)
    assert shares.fewest_elsewhere(mine) is None  # its process is gone
    assert shares.claim() != mine  # the gone one's slot is free again; ours is not
