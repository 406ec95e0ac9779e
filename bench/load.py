"""Load generators: wrk (Debian's package) for request rates, and small asyncio clients for
what wrk cannot do (thousands of open event streams, per-signer bookkeeping)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WRK_DIR = Path(__file__).resolve().parent / "wrk"
SOCKET_ERROR_KINDS = ("connect", "read", "write", "timeout")


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk is not installed: run `make bench` (it installs it) or apt-get")
    return path


@dataclass
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    status_errors: int
    codes: dict[int, int]
    # wrk's socket errors by kind (connect, read, write, timeout: a response slower than
    # --timeout), the ones that happened.
    socket_error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def count(self, *codes: int) -> int:
        return sum(self.codes.get(code, 0) for code in codes)


def run_wrk(
    url: str,
    *,
    script: str = "get.lua",
    script_args: Sequence[str] = (),
    duration: float,
    connections: int = 64,
    threads: int = 2,
    timeout: float = 5.0,
    env: dict[str, str] | None = None,
) -> WrkResult:
    command = [
        wrk_binary(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={timeout:g}s",
        "-s",
        str(WRK_DIR / script),
        url,
    ]
    if script_args:
        command += ["--", *script_args]
    environment = {**os.environ, **(env or {}), "BENCH_WRK_DIR": str(WRK_DIR)}
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        socket_errors=sum(data[kind] for kind in SOCKET_ERROR_KINDS),
        status_errors=data["status"],
        codes={int(code): n for code, n in data["codes"].items()},
        socket_error_kinds={kind: data[kind] for kind in SOCKET_ERROR_KINDS if data[kind]},
    )


# --- event streams ---------------------------------------------------------------------------


@dataclass
class Stream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    last: int | None = None
    seen_at: dict[int, float] = field(default_factory=dict)


async def _open_stream(port: int, path: str) -> Stream:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        writer.close()
        raise RuntimeError(f"stream refused: {head[:60]!r}")
    return Stream(reader, writer)


async def _follow(stream: Stream, first: asyncio.Event) -> None:
    """Read events; remember when each count value was first seen."""
    while True:
        line = await stream.reader.readline()
        if not line:
            return
        # Chunked framing puts size lines between events; only `data:` lines matter here.
        if line.startswith(b"data: "):
            count = json.loads(line[6:])["verified"]
            stream.last = count
            stream.seen_at.setdefault(count, time.monotonic())
            first.set()


@dataclass
class StreamsResult:
    opened: int
    failed: int
    reached: int
    p50_s: float
    max_s: float


async def hold_streams(
    port: int,
    path: str,
    n: int,
    *,
    on_open: Any,
    change: Any,
    expect: Any,
    wait: float = 10.0,
) -> StreamsResult:
    """Open n event streams, call on_open() (e.g. to read memory), make a change with change()
    (returns the count every stream should then see), and time its arrival on every stream."""
    streams: list[Stream] = []
    tasks: list[asyncio.Task[None]] = []
    failed = 0
    gate = asyncio.Semaphore(200)  # connect in waves: the listen backlog is finite

    async def open_one() -> None:
        nonlocal failed
        async with gate:
            try:
                stream = await asyncio.wait_for(_open_stream(port, path), 30)
            except (OSError, RuntimeError, TimeoutError, asyncio.IncompleteReadError):
                failed += 1
                return
            first = asyncio.Event()
            streams.append(stream)
            tasks.append(asyncio.create_task(_follow(stream, first)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(first.wait(), 10)

    try:
        await asyncio.gather(*(open_one() for _ in range(n)))
        await asyncio.sleep(1.0)
        await on_open()
        started = time.monotonic()
        target = await change()
        deadline = started + wait
        while time.monotonic() < deadline:
            if all(s.last is not None and s.last >= target for s in streams):
                break
            await asyncio.sleep(0.05)
        delays = [s.seen_at[target] - started for s in streams if target in s.seen_at]
        await expect()
        return StreamsResult(
            opened=len(streams),
            failed=failed,
            reached=len(delays),
            p50_s=statistics.median(delays) if delays else float("nan"),
            max_s=max(delays) if delays else float("nan"),
        )
    finally:
        for task in tasks:
            task.cancel()
        for stream in streams:
            stream.writer.close()
        await asyncio.gather(*tasks, return_exceptions=True)
