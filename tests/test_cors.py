"""api.middleware.cors: the short path for requests without Origin answers exactly as
Starlette's CORSMiddleware does, and requests with an Origin still get Starlette's answers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Receive, Scope, Send

from api.middleware.cors import CorsMiddleware

OPTIONS: dict[str, Any] = {
    "allow_origins": ["https://frontend.example"],
    "allow_methods": ["GET", "POST"],
    "allow_headers": ["Content-Type"],
    "expose_headers": ["ETag"],
}


def _answering(headers: list[tuple[bytes, bytes]]):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def _run(middleware: Any, request_headers: list[tuple[bytes, bytes]], method: str = "GET"):
    sent: list[Message] = []
    scope = {"type": "http", "method": method, "path": "/v1/facts", "headers": request_headers}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(middleware(scope, receive, send))
    start = sent[0]
    return start["status"], sorted(start["headers"])


@pytest.mark.parametrize(
    "answer",
    [
        [(b"content-type", b"application/json")],
        [(b"content-type", b"application/json"), (b"vary", b"Accept-Language")],
        [(b"vary", b"Accept"), (b"etag", b'"x"'), (b"vary", b"Accept-Language")],
    ],
)
@pytest.mark.parametrize(
    "request_headers",
    [
        [],
        [(b"accept", b"application/json")],
        [(b"origin", b"https://frontend.example")],
        [(b"origin", b"https://elsewhere.example")],
    ],
)
def test_same_answer_as_starlette(answer, request_headers) -> None:
    ours = _run(CorsMiddleware(_answering(answer), **OPTIONS), request_headers)
    theirs = _run(CORSMiddleware(_answering(answer), **OPTIONS), request_headers)
    assert ours == theirs


def test_a_preflight_is_starlettes() -> None:
    preflight = [
        (b"origin", b"https://frontend.example"),
        (b"access-control-request-method", b"POST"),
    ]
    ours = _run(CorsMiddleware(_answering([]), **OPTIONS), preflight, "OPTIONS")
    theirs = _run(CORSMiddleware(_answering([]), **OPTIONS), preflight, "OPTIONS")
    assert ours == theirs
    assert ours[0] == 200 and (b"access-control-allow-methods", b"GET, POST") in ours[1]
