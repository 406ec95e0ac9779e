"""Live-count streams cannot exhaust the server: bounded per client and in total (429 / 503
problem+json with Retry-After), connections past the server's limit get a 503 problem too,
never a dropped connection; memory held by thousands of streams is given back."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import PROBLEM, SLUG, Service


class Answer:
    def __init__(self, sock: socket.socket, status: int, headers: dict[str, str], body: bytes):
        self.sock, self.status, self.headers, self.body = sock, status, headers, body

    def problem(self) -> dict[str, object]:
        assert self.headers["content-type"] == PROBLEM, self.headers
        assert self.headers["retry-after"].isdigit(), self.headers
        document: dict[str, object] = json.loads(self.body)
        return document


def open_stream(port: int, forwarded_for: str | None = None) -> Answer:
    """GET the event stream on a raw socket and read the status and headers (and the body of
    an error). The socket stays open: the stream goes on until it is closed."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    extra = f"X-Forwarded-For: {forwarded_for}\r\n" if forwarded_for else ""
    request = f"GET /v1/petitions/{SLUG}/events HTTP/1.1\r\nHost: t\r\n{extra}\r\n"
    sock.sendall(request.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"connection closed with no answer after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if status != 200:
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(4096)
            if not chunk:
                break
            body += chunk
    return Answer(sock, status, headers, body)


@pytest.fixture
def streams() -> Iterator[list[Answer]]:
    opened: list[Answer] = []
    yield opened
    for answer in opened:
        with contextlib.suppress(OSError):
            answer.sock.close()


@pytest.fixture
def serve_streams(
    tmp_path: Path, sqlite_copy: Callable[[Path], str], start_service: Callable[..., Service]
) -> Callable[..., Service]:
    """Start a server on a fresh SQLite copy with these settings."""
    return lambda **env: start_service(sqlite_copy(tmp_path), **env)


def _port(service: Service) -> int:
    return service.server.port


def test_streams_are_bounded_per_client_and_in_total(
    serve_streams: Callable[..., Service], streams: list[Answer]
) -> None:
    service = serve_streams(
        SSE_MAX_STREAMS_PER_CLIENT="3",
        SSE_MAX_STREAMS="5",
        TRUSTED_PROXIES="127.0.0.1",
    )
    port = _port(service)
    for _ in range(3):
        streams.append(open_stream(port, "203.0.113.1"))
    assert [s.status for s in streams] == [200, 200, 200]
    refused = open_stream(port, "203.0.113.1")
    streams.append(refused)
    assert refused.status == 429
    assert refused.problem()["type"] == "urn:advocacy:problem:rate-limited"

    for _ in range(2):
        streams.append(open_stream(port, "203.0.113.2"))
    assert streams[-1].status == 200
    full = open_stream(port, "203.0.113.3")
    streams.append(full)
    assert full.status == 503
    assert full.problem()["type"] == "urn:advocacy:problem:service-unavailable"
    assert httpx.get(service.base_url + "/healthz", timeout=5).status_code == 200

    # Closing streams gives their slots back.
    for answer in streams[:3]:
        answer.sock.close()
    deadline = time.monotonic() + 10
    while True:
        again = open_stream(port, "203.0.113.3")
        streams.append(again)
        if again.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert again.status == 200


def test_connections_past_the_server_limit_get_a_503_problem(
    serve_streams: Callable[..., Service], streams: list[Answer]
) -> None:
    # Regression: past ~930 streams the process ran out of descriptors and every new
    # connection (/healthz, signing) was closed with no answer.
    service = serve_streams(
        SERVER_MAX_CONNECTIONS="20",
        SSE_MAX_STREAMS="1000",
        SSE_MAX_STREAMS_PER_CLIENT="1000",
    )
    port = _port(service)
    for _ in range(30):
        streams.append(open_stream(port))
    statuses = [s.status for s in streams]
    assert statuses.count(200) >= 15
    overloaded = [s for s in streams if s.status != 200]
    assert overloaded, statuses
    for answer in overloaded:
        assert answer.status == 503
        assert answer.problem()["type"] == "urn:advocacy:problem:service-unavailable"


STREAMS_FOR_MEMORY = 2000


def _round_of_streams(service: Service, streams: list[Answer]) -> tuple[int, int]:
    """Open STREAMS_FOR_MEMORY streams, close them: (RSS KiB while open, RSS KiB after)."""
    with ThreadPoolExecutor(8) as pool:
        streams.extend(pool.map(lambda _: open_stream(_port(service)), range(STREAMS_FOR_MEMORY)))
    assert all(s.status == 200 for s in streams)
    held = service.server.rss_kib()
    for answer in streams:
        answer.sock.close()
    streams.clear()
    time.sleep(2.0)
    return held, service.server.rss_kib()


def test_memory_of_2000_streams_is_bounded_and_reused(
    serve_streams: Callable[..., Service], streams: list[Answer]
) -> None:
    # Measured on this machine: ~87 MB for 2,000 streams (~44 KB each: connection, tasks,
    # buffers), kept by the process after they close: CPython's allocator keeps freed memory
    # (glibc's malloc_trim gave back ~13 MB of it, not reliably, so it is not used). It is
    # not a leak: a second round reuses the same memory. What bounds it is SSE_MAX_STREAMS.
    service = serve_streams(
        SSE_MAX_STREAMS=str(STREAMS_FOR_MEMORY + 100),
        SSE_MAX_STREAMS_PER_CLIENT=str(STREAMS_FOR_MEMORY + 100),
    )
    baseline = service.server.rss_kib()
    held, after = _round_of_streams(service, streams)
    held_again, after_again = _round_of_streams(service, streams)
    print(
        f"RSS KiB: baseline {baseline}; {STREAMS_FOR_MEMORY} streams {held}, closed {after}; "
        f"again {held_again}, closed {after_again}"
    )
    assert httpx.get(service.base_url + "/healthz", timeout=5).status_code == 200
    assert (held - baseline) / STREAMS_FOR_MEMORY < 100, "more than 100 KiB per stream"
    assert held_again <= held + 8192, "a second round took new memory: a leak"
    assert after_again <= after + 8192
