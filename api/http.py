"""Pure ASGI middleware shared by every route: body size cap, conditional GET, headers, logs.

Pure ASGI (not BaseHTTPMiddleware) so streaming responses (SSE, exports) pass straight through.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import send_problem

access_logger = logging.getLogger("api.access")


class BodySizeLimitMiddleware:
    """Refuse request bodies larger than `max_bytes` with 413, before a handler reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, send)
            return

        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await self._reject(scope, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        await send_problem(
            send,
            413,
            f"The request body is larger than {self.max_bytes} bytes.",
            scope["path"],
            code="payload-too-large",
            title="Payload Too Large",
            headers={"connection": "close"},
        )


class _BodyTooLarge(Exception):
    pass


class ConditionalGetMiddleware:
    """Give JSON GET responses a strong ETag and answer a matching If-None-Match with 304.

    The tag is a hash of the exact bytes, so it changes exactly when the representation does.
    Streaming media types (event streams, CSV exports) are passed through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        if_none_match = Headers(scope=scope).get("if-none-match")
        start: Message | None = None
        chunks: list[bytes] = []
        buffering = False

        async def buffering_send(message: Message) -> None:
            nonlocal start, buffering
            if message["type"] == "http.response.start":
                headers = Headers(raw=message["headers"])
                content_type = headers.get("content-type", "")
                buffering = (
                    message["status"] == 200
                    and "etag" not in headers
                    and (
                        content_type.startswith("application/json")
                        or content_type.startswith("application/vnd.citationstyles")
                    )
                )
                if buffering:
                    start = message
                    return
                await send(message)
                return
            if not buffering:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            assert start is not None
            body = b"".join(chunks)
            etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
            headers = MutableHeaders(raw=start["headers"])
            headers["etag"] = etag
            if if_none_match is not None and _etag_matches(etag, if_none_match.split(",")):
                not_modified = MutableHeaders()
                for name in ("etag", "cache-control", "vary", "content-location", "expires"):
                    if name in headers:
                        not_modified[name] = headers[name]
                await send(
                    {"type": "http.response.start", "status": 304, "headers": not_modified.raw}
                )
                await send({"type": "http.response.body", "body": b""})
                return
            await send(start)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffering_send)


def _etag_matches(etag: str, candidates: Iterable[str]) -> bool:
    for candidate in candidates:
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


class SecurityHeadersMiddleware:
    """Headers every response carries; HSTS only when the request came over HTTPS."""

    PAGE_CSP = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    )
    API_CSP = "default-src 'none'; frame-ancestors 'none'"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "no-referrer")
                headers.setdefault("x-frame-options", "DENY")
                if not path.startswith(("/docs", "/redoc")):
                    is_page = headers.get("content-type", "").startswith("text/html")
                    headers.setdefault(
                        "content-security-policy", self.PAGE_CSP if is_page else self.API_CSP
                    )
                if https:
                    headers.setdefault(
                        "strict-transport-security", "max-age=31536000; includeSubDomains"
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AccessLogMiddleware:
    """One line per request: method, path without query string, status, duration.

    The query string is left out because confirmation links carry tokens in it; bodies and
    client addresses are never logged (privacy rule).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            if access_logger.isEnabledFor(logging.INFO):
                access_logger.info(
                    "%s %s %d %.1fms",
                    scope["method"],
                    scope["path"],
                    status,
                    (time.perf_counter() - started) * 1000,
                )
