"""The protocol `advocacy serve` runs (api.http_protocol): a response's head and body leave in
one write, and nothing is held past its turn of the event loop. Over a real socket, with
uvicorn's own protocol code; only the socket transport's writes are counted."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from api.http_protocol import HOLD_LIMIT, CorkedHttpToolsProtocol

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b'{"status":"ok"}'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"15")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _serve(app: Asgi, writes: list[bytes]) -> tuple[asyncio.AbstractServer, int]:
    """A server on a free port whose socket writes are recorded in `writes`."""
    config = uvicorn.Config(app, lifespan="off", access_log=False, log_config=None)
    state = ServerState()

    class Counted(CorkedHttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            real_write = transport.write

            def write(data: Any) -> None:
                writes.append(bytes(data))
                real_write(data)

            transport.write = write  # type: ignore[method-assign]
            super().connection_made(transport)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Counted(config=config, server_state=state, app_state={}), "127.0.0.1", 0
    )
    return server, server.sockets[0].getsockname()[1]


@contextlib.asynccontextmanager
async def _connected(
    app: Asgi, request: bytes, writes: list[bytes]
) -> AsyncIterator[asyncio.StreamReader]:
    """A connection to a fresh server running `app`, with `request` sent on it."""
    server, port = await _serve(app, writes)
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        try:
            yield reader
        finally:
            writer.close()


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.read(), 5)


def test_a_response_head_and_body_leave_in_one_write() -> None:
    async def scenario() -> None:
        writes: list[bytes] = []
        request = b"GET / HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
        async with _connected(_hello, request, writes) as reader:
            answer = await _read_all(reader)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert answer.endswith(b'\r\n\r\n{"status":"ok"}')
        assert len(writes) == 1, writes  # uvicorn's own protocol makes two
        assert writes[0] == answer

    asyncio.run(scenario())


def test_pipelined_requests_are_answered_in_order() -> None:
    async def echo_path(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = scope["path"].encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def scenario() -> None:
        request = (
            b"GET /first HTTP/1.1\r\nhost: t\r\n\r\n"
            b"GET /second HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
        )
        async with _connected(echo_path, request, []) as reader:
            answer = await _read_all(reader)
        assert answer.count(b"HTTP/1.1 200 OK") == 2
        assert answer.index(b"/first") < answer.index(b"/second")
        assert answer.endswith(b"/second")

    asyncio.run(scenario())


def test_a_streamed_chunk_is_sent_before_the_stream_goes_on() -> None:
    """An event stream's first event reaches the client while the app still waits (here: for
    the client to say it got it), not when the response ends."""
    received_first = asyncio.Event()

    async def stream(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        await asyncio.wait_for(received_first.wait(), 5)
        await send({"type": "http.response.body", "body": b"data: 2\n\n", "more_body": False})

    async def scenario() -> None:
        writes: list[bytes] = []
        request = b"GET /events HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
        async with _connected(stream, request, writes) as reader:
            head_and_first = await asyncio.wait_for(reader.readuntil(b"data: 1\n\n\r\n"), 5)
            received_first.set()
            rest = await _read_all(reader)
        assert head_and_first.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"data: 2" in rest and rest.endswith(b"0\r\n\r\n")
        assert len(writes) == 2  # head with the first event, then the second with the end

    asyncio.run(scenario())


def test_a_body_streamed_in_one_turn_is_sent_as_it_passes_the_hold_limit() -> None:
    """Chunks sent without the app yielding are not all gathered before the first leaves."""
    chunk = b"x" * 1024
    count = 4 * HOLD_LIMIT // len(chunk)

    async def many_chunks(scope: dict[str, Any], receive: Any, send: Any) -> None:
        length = str(count * len(chunk)).encode()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]}
        )
        for _ in range(count - 1):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": chunk})

    async def scenario() -> None:
        writes: list[bytes] = []
        request = b"GET / HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
        async with _connected(many_chunks, request, writes) as reader:
            answer = await _read_all(reader)
        assert answer.endswith(b"\r\n\r\n" + chunk * count)
        assert b"".join(writes) == answer
        assert len(writes) >= 4  # every HOLD_LIMIT bytes, not one write of the whole body
        assert all(len(write) < HOLD_LIMIT + len(chunk) + 200 for write in writes)

    asyncio.run(scenario())
