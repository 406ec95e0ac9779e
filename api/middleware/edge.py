"""The edge every HTTP request passes first: one pure-ASGI pass for what used to be five layers.

From the outside in, as it reads:
- the request id, the access log line and the request metrics (api.middleware.access_log);
- an outage of a dependency, wherever it surfaces, answered 503 (api.availability);
- the body size cap, 413 (api.middleware.body_size);
- request strings no database can store, 422 (api.middleware.storable_text);
- the security headers on every answer (api.middleware.security_headers), the edge's own
  answers (413, 422, 503) included.

Why one layer: each pure-ASGI layer costs a coroutine call per request and a wrapped `send`
per message; five of them were a third of what an empty request cost (BENCHMARKS.md). The
rules live in their modules; this is only the order they run in.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.availability import DependencyState, answer_outage
from api.logs import request_id_var
from api.middleware.access_log import log_request, request_id_for
from api.middleware.body_size import BodyTooLarge, declared_too_large, refuse_too_large
from api.middleware.headers import raw_headers
from api.middleware.security_headers import security_headers
from api.middleware.storable_text import (
    CHECKED_BODIES,
    refuse_unstorable,
    unstorable_in_body,
    unstorable_in_url,
)

REQUEST_ID = b"x-request-id"


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        trusted_proxies: list[str] | None = None,
        dependency_states: Sequence[DependencyState] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.trusted_proxies = trusted_proxies or []
        self.dependency_states = dependency_states

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        request_id = request_id_for(scope, self.trusted_proxies)
        token = request_id_var.set(request_id)
        exchange = _Exchange(
            scope, receive, send, request_id.encode("latin-1"), self.max_body_bytes
        )
        try:
            await self._serve(scope, exchange)
        finally:
            log_request(scope, exchange.status, time.perf_counter() - started_at)
            request_id_var.reset(token)

    async def _serve(self, scope: Scope, exchange: _Exchange) -> None:
        try:
            await self._checked(scope, exchange)
        except BodyTooLarge:
            if not exchange.started:
                await refuse_too_large(scope, exchange.forward, self.max_body_bytes)
        except Exception as exc:
            if exchange.started or not await answer_outage(
                self.dependency_states, exc, scope, exchange.forward
            ):
                raise

    async def _checked(self, scope: Scope, exchange: _Exchange) -> None:
        declared = content_type = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = declared or value
            elif name == b"content-type":
                content_type = content_type or value
        if declared_too_large(declared, self.max_body_bytes):
            await refuse_too_large(scope, exchange.forward, self.max_body_bytes)
            return
        errors = list(unstorable_in_url(scope))
        if errors:
            await refuse_unstorable(scope, exchange.forward, errors)
            return
        if content_type is not None and content_type.startswith(CHECKED_BODIES):
            body = await exchange.read_body()
            errors = list(unstorable_in_body(body, content_type))
            if errors:
                await refuse_unstorable(scope, exchange.forward, errors)
                return
        await self.app(scope, exchange.receive, exchange.send)


class _Exchange:
    """One request's `receive` and `send` as the app sees them: bytes counted against the cap,
    a body already read replayed, the answer's status kept and its headers completed."""

    __slots__ = (
        "_buffered",
        "_receive",
        "_send",
        "max_body_bytes",
        "received",
        "request_id",
        "scope",
        "started",
        "status",
        "too_large",
    )

    def __init__(
        self, scope: Scope, receive: Receive, send: Send, request_id: bytes, max_body_bytes: int
    ) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self.request_id = request_id
        self.max_body_bytes = max_body_bytes
        self._buffered: list[Message] = []
        self.received = 0
        self.too_large = False
        self.started = False
        self.status = 500  # what the log says if the app fails before answering

    async def receive(self) -> Message:
        if self._buffered:
            return self._buffered.pop(0)
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_body_bytes:
                self.too_large = True
                raise BodyTooLarge
        return message

    async def read_body(self) -> bytes:
        """The whole body (within the cap), kept to be replayed to the app."""
        chunks = []
        while True:
            message = await self.receive()
            self._buffered.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def send(self, message: Message) -> None:
        if self.too_large:
            # Whoever read the body turned BodyTooLarge into an answer of its own (the
            # framework's 400 "error parsing the body"): the answer is the 413.
            if message["type"] == "http.response.start" and not self.started:
                await refuse_too_large(self.scope, self.forward, self.max_body_bytes)
            return
        await self.forward(message)

    async def forward(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            headers = raw_headers(message)
            present = {name.lower() for name, _ in headers}
            if REQUEST_ID in present:  # ours replaces any the app set
                headers[:] = [item for item in headers if item[0].lower() != REQUEST_ID]
            headers.extend(
                item for item in security_headers(self.scope, message) if item[0] not in present
            )
            headers.append((REQUEST_ID, self.request_id))
        await self._send(message)
