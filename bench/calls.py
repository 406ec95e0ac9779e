"""Python function calls per request through the whole app, in process: a deterministic
measure of per-request work (unlike a rate, it does not move with the machine's load).

    .venv/bin/python -m bench.calls                 # /healthz, count, sign (no database write)

Each request is driven through the ASGI app directly (no socket, no server), 200 times to
warm up, then 500 times under cProfile, whose call count per request is printed, then 5,000
times without it, whose mean time per request is printed (microseconds of this process's
CPU: it moves with the machine, less than a rate does; compare runs made together). Signing is
measured up to the group commit, which is replaced by a no-op: the event loop's share of a
signature (parsing, validation, middleware, the answer). The naive peer's no-op
(../shared/bench) is measured the same way when the folder is there.
"""

from __future__ import annotations

import asyncio
import cProfile
import itertools
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.peer import PEER_APP, PEER_DIR
from bench.servers import SECRET_KEY, prepare, service_env

SIGN_PATH = "/v1/petitions/florida-minimum-arrest-age-12/signatures"
COUNT_PATH = "/v1/petitions/florida-minimum-arrest-age-12/count"
WARM, MEASURED, TIMED = 200, 500, 5000
_serial = itertools.count()


def _scope(path: str, method: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


def _signature() -> bytes:
    n = next(_serial)
    return (
        '{"first_name":"Bench","last_name":"Signer","email":"calls.'
        + str(n)
        + '@example.org","postal_code":"32801","country":"US","locale":"en"}'
    ).encode()


async def calls_per_request(
    app: Any, path: str, method: str = "GET", body: Callable[[], bytes] | None = None
) -> tuple[float, float, set[int]]:
    """(calls per request, microseconds of CPU per request, the statuses answered)."""
    headers = [(b"content-type", b"application/json")] if body else []
    statuses: set[int] = set()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    async def one() -> None:
        content = body() if body else b""

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": content, "more_body": False}

        await app(_scope(path, method, headers), receive, send)

    for _ in range(WARM):
        await one()
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(MEASURED):
        await one()
    profile.disable()
    started = time.process_time()
    for _ in range(TIMED):
        await one()
    micros = (time.process_time() - started) / TIMED * 1e6
    calls = pstats.Stats(profile).total_calls / MEASURED  # type: ignore[attr-defined]
    return calls, micros, statuses


async def _with_lifespan(app: Any, body: Callable[[], Awaitable[None]]) -> None:
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    await outbox.get()
    try:
        await body()
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


class _NoWrite:
    """Stands in for the group committer: signing measured up to the database write."""

    async def run_batched(self, kind: Any, item: Any) -> None:
        return None

    def close(self) -> None:
        return None


async def service(work_dir: Path) -> None:
    env = service_env(f"sqlite:///{work_dir / 'calls.db'}", work_dir / "var")
    prepare(env)
    os.environ.update(env)
    from api.config import get_settings
    from api.main import create_app

    app = create_app(get_settings())

    async def measure() -> None:
        for label, path in (("/healthz", "/healthz"), ("count (cached)", COUNT_PATH)):
            _print(label, *await calls_per_request(app, path))
        app.state.group_commit = _NoWrite()
        _print("sign (to the write)", *await calls_per_request(app, SIGN_PATH, "POST", _signature))

    await _with_lifespan(app, measure)


async def peer(work_dir: Path) -> None:
    if not PEER_APP.is_file():
        print(f"naive peer: not measured ({PEER_DIR} is absent)")
        return
    os.environ["DB"] = f"sqlite:///{work_dir / 'peer.db'}"
    sys.path.insert(0, str(PEER_DIR))
    import naive_peer_app

    _print("naive peer /anoop", *await calls_per_request(naive_peer_app.app, "/anoop"))


def _print(label: str, calls: float, micros: float, statuses: set[int]) -> None:
    print(
        f"{label:<28} {calls:8.0f} calls/request {micros:8.1f} us/request"
        f"  statuses {sorted(statuses)}"
    )


def main() -> None:
    os.environ.setdefault("SECRET_KEY", SECRET_KEY)
    with tempfile.TemporaryDirectory() as directory:
        if sys.argv[1:] == ["--peer"]:
            asyncio.run(peer(Path(directory)))
            return
        asyncio.run(service(Path(directory)))
    # The peer in a process of its own: its `signature` table would clash with ours in one
    # SQLModel metadata.
    subprocess.run([sys.executable, "-m", "bench.calls", "--peer"], check=True)


if __name__ == "__main__":
    main()
