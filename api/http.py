"""Pure ASGI middleware shared by every route: body size cap, conditional GET, headers, logs.

Pure ASGI (not BaseHTTPMiddleware) so streaming responses (SSE, exports) pass straight through.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import anyio
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics
from api.abuse.client import peer_is_trusted
from api.errors import (
    FieldError,
    PayloadTooLarge,
    UnprocessableContent,
    coded_error,
    language,
    send_problem,
    validation_detail,
)
from api.logs import request_id_var
from api.text import is_storable_text

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
        too_large = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if too_large:
                # Whoever read the body turned our exception into an answer of its own (the
                # framework's 400 "error parsing the body"): the answer is the 413.
                if message["type"] == "http.response.start" and not response_started:
                    response_started = True
                    await self._reject(scope, send)
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await self._reject(scope, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        error = PayloadTooLarge(
            f"The request body is larger than {self.max_bytes} bytes.",
            headers={"connection": "close"},
        )
        await send_problem(send, error, scope["path"])


class _BodyTooLarge(Exception):
    pass


class StorableTextMiddleware:
    """Refuse, with a 422 naming the field, any request string no database can store (NUL,
    a lone surrogate): in the path, the query, a JSON body (any field, at any depth) or a
    form body. One check at the edge, so no handler meets such a string and none answers 500.

    Bodies are already capped (BodySizeLimitMiddleware, outside this one). A JSON body is only
    parsed here when it holds a `\\u` escape, the only way JSON can carry either."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        errors = list(_unstorable_in_url(scope))
        content_type = Headers(scope=scope).get("content-type", "")
        if errors or not content_type.startswith(
            ("application/json", "application/x-www-form-urlencoded")
        ):
            if errors:
                await _refuse_unstorable(scope, send, errors)
            else:
                await self.app(scope, receive, send)
            return

        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        errors = list(_unstorable_in_body(body, content_type))
        if errors:
            await _refuse_unstorable(scope, send, errors)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _unstorable_in_url(scope: Scope) -> Iterator[FieldError]:
    if not is_storable_text(scope["path"]):
        yield coded_error(["path"], "unstorable_text")
    query = scope["query_string"].decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if not (is_storable_text(name) and is_storable_text(value)):
            yield coded_error(["query", name], "unstorable_text")


def _unstorable_in_body(body: bytes, content_type: str) -> Iterator[FieldError]:
    if content_type.startswith("application/x-www-form-urlencoded"):
        for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            if not (is_storable_text(name) and is_storable_text(value)):
                yield coded_error(["body", name], "unstorable_text")
        return
    if b"\\u" not in body and b"\\U" not in body:
        return
    try:
        document = json.loads(body)
    except ValueError:
        return  # the route answers the syntax error (422) itself
    yield from _unstorable_in(document, ["body"])


def _unstorable_in(value: Any, location: list[str | int]) -> Iterator[FieldError]:
    if isinstance(value, str):
        if not is_storable_text(value):
            yield coded_error(location, "unstorable_text")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not is_storable_text(key):
                yield coded_error([*location, "(key)"], "unstorable_text")
            else:
                yield from _unstorable_in(item, [*location, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unstorable_in(item, [*location, index])


async def _refuse_unstorable(scope: Scope, send: Send, errors: list[FieldError]) -> None:
    errors = errors[:20]
    error = UnprocessableContent(validation_detail(errors), errors=errors)
    await send_problem(send, error, scope["path"], language(Headers(scope=scope)))


# The cache key holds the Accept headers, so a response varying on them (or on headers the
# outer middleware answers for) may be kept; one varying on anything else may not.
_VARY_ALLOWED = frozenset({"accept", "accept-language", "accept-encoding", "origin"})
_NOT_MODIFIED_HEADERS = ("etag", "cache-control", "vary", "content-location", "expires")


# (path, query string, Accept, Accept-Language)
_Key = tuple[str, bytes, bytes | None, bytes | None]


@dataclass(frozen=True, slots=True)
class _Stored:
    status_headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: str
    stored_at: float
    fresh_until: float
    # While another request rebuilds it, the old copy may be served until then (the
    # response's own stale-while-revalidate). Under load a rebuild can take a second or more:
    # its worker thread waits for the GIL each time the driver releases it, once per row.
    stale_until: float


class ConditionalGetMiddleware:
    """Give JSON GET responses a strong ETag, answer a matching If-None-Match with 304, and
    keep shareable ones for a moment (a per-process micro-cache).

    The tag is a hash of the exact bytes, so it changes exactly when the representation does.
    Streaming media types (event streams, CSV exports) are passed through untouched.

    The cache holds only what the response itself lets any shared cache hold (`Cache-Control:
    public` with a `max-age`, no cookie, varying on nothing but the Accept headers), for at most
    `fresh_seconds` and never past its max-age, with an `Age` header as a proxy would add. So
    under a burst of readers a representation is built once per `fresh_seconds`, not once per
    request; while one request rebuilds an expired entry, the others wait for it, or are served
    the old copy if the response allows `stale-while-revalidate` (only while that rebuild runs,
    and never past the response's own allowance). Requests with credentials bypass it; a
    successful admin write empties it, so staff see their own edits at once (other processes
    within `fresh_seconds`).
    """

    def __init__(self, app: ASGIApp, *, fresh_seconds: float = 0.0, max_entries: int = 512) -> None:
        self.app = app
        self.fresh_seconds = fresh_seconds
        self.max_entries = max_entries
        self.max_body_bytes = 256 * 1024
        self._stored: dict[_Key, _Stored] = {}
        # One request per key builds the representation; the others wait for it.
        self._building: dict[_Key, anyio.Event] = {}

    def clear(self) -> None:
        self._stored.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            if self._stored and scope["path"].startswith("/v1/admin/"):
                await self.app(scope, receive, self._clearing_on_success(send))
            else:
                await self.app(scope, receive, send)
            return

        if_none_match = accept = accept_language = None
        credentials = False
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if_none_match = value.decode("latin-1")
            elif name == b"accept":
                accept = value
            elif name == b"accept-language":
                accept_language = value
            elif name in (b"authorization", b"cookie"):
                credentials = True

        key = None
        leading: anyio.Event | None = None  # set when this request builds the entry
        if self.fresh_seconds > 0 and method == "GET" and not credentials:
            key = (scope["path"], _canonical_query(scope), accept, accept_language)
            stored = self._stored.get(key)
            now = time.monotonic()
            if stored is None or stored.fresh_until <= now:
                building = self._building.get(key)
                if building is None:
                    if len(self._building) < self.max_entries:
                        leading = self._building[key] = anyio.Event()
                elif stored is not None and stored.stale_until > now:
                    await self._replay(send, stored, if_none_match)
                    return
                else:
                    # A crowd arriving at a cold or expired URL costs one build, not one each.
                    # If that answer is not shareable (an event stream, no-store), the request
                    # building it lets the others go as soon as its response starts.
                    await building.wait()
                    stored = self._stored.get(key)
            if stored is not None and stored.fresh_until > time.monotonic():
                await self._replay(send, stored, if_none_match)
                return

        try:
            await self.app(scope, receive, self._tagging_send(send, if_none_match, key, leading))
        finally:
            if leading is not None:
                assert key is not None
                self._release(key, leading)

    def _release(self, key: _Key, building: anyio.Event) -> None:
        # Only our own build: once released, another request may be building this key.
        if self._building.get(key) is not building:
            return
        del self._building[key]
        building.set()
        stale = self._stored.get(key)
        if stale is not None and stale.fresh_until <= time.monotonic():
            del self._stored[key]  # not rebuilt: no longer shareable

    def _tagging_send(
        self,
        send: Send,
        if_none_match: str | None,
        key: _Key | None,
        leading: anyio.Event | None,
    ) -> Send:
        start: Message | None = None
        chunks: list[bytes] = []
        buffering = False
        lifetime: tuple[float, float] | None = None

        async def buffering_send(message: Message) -> None:
            nonlocal start, buffering, lifetime
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
                if buffering and key is not None:
                    lifetime = _shared_lifetime(headers)
                if leading is not None and lifetime is None:
                    assert key is not None
                    self._release(key, leading)  # not shareable: let the waiters go now
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
            headers = MutableHeaders(raw=list(start["headers"]))
            headers["etag"] = etag
            if key is not None and lifetime is not None:
                self._keep(key, lifetime, headers, body, etag)
            await _send_representation(send, headers.raw, body, etag, if_none_match)

        return buffering_send

    def _keep(
        self,
        key: _Key,
        lifetime: tuple[float, float],
        headers: MutableHeaders,
        body: bytes,
        etag: str,
    ) -> None:
        if len(body) > self.max_body_bytes:
            return
        max_age, stale_while_revalidate = lifetime
        now = time.monotonic()
        if len(self._stored) >= self.max_entries:
            self._stored = {k: v for k, v in self._stored.items() if v.fresh_until > now}
            if len(self._stored) >= self.max_entries:
                return
        self._stored[key] = _Stored(
            status_headers=list(headers.raw),
            body=body,
            etag=etag,
            stored_at=now,
            fresh_until=now + min(self.fresh_seconds, max_age),
            stale_until=now + min(self.fresh_seconds, max_age) + stale_while_revalidate,
        )

    async def _replay(self, send: Send, stored: _Stored, if_none_match: str | None) -> None:
        age = str(int(time.monotonic() - stored.stored_at)).encode()
        headers = [*stored.status_headers, (b"age", age)]
        await _send_representation(send, headers, stored.body, stored.etag, if_none_match)

    def _clearing_on_success(self, send: Send) -> Send:
        async def clearing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                self.clear()
            await send(message)

        return clearing_send


def _canonical_query(scope: Scope) -> bytes:
    """The query as parameters, not as bytes: the same parameters in another order or
    percent-encoding are one cache entry. (Parameters a route does not take never get here
    as a 200: they are refused, see api.deps.reject_unknown_query_parameters.)"""
    query: bytes = scope["query_string"]
    if not query:
        return query
    pairs = sorted(parse_qsl(query.decode("latin-1"), keep_blank_values=True))
    return urlencode(pairs).encode()


def _shared_lifetime(headers: Headers) -> tuple[float, float] | None:
    """(max-age, stale-while-revalidate) in seconds for a shared cache, or None if a shared
    cache may not keep this response."""
    if "set-cookie" in headers:
        return None
    vary = {v.strip().lower() for v in headers.get("vary", "").split(",") if v.strip()}
    if not vary <= _VARY_ALLOWED:
        return None
    directives = [d.strip().lower() for d in headers.get("cache-control", "").split(",")]
    if "public" not in directives or {"no-store", "no-cache", "private"} & set(directives):
        return None
    seconds = {
        name: float(value)
        for name, _, value in (directive.partition("=") for directive in directives)
        if value.isdigit()
    }
    max_age = seconds.get("max-age", 0.0)
    if max_age <= 0:
        return None
    return max_age, seconds.get("stale-while-revalidate", 0.0)


async def _send_representation(
    send: Send,
    raw_headers: list[tuple[bytes, bytes]],
    body: bytes,
    etag: str,
    if_none_match: str | None,
) -> None:
    if if_none_match is not None and _etag_matches(etag, if_none_match.split(",")):
        full = Headers(raw=raw_headers)
        not_modified = MutableHeaders()
        for name in (*_NOT_MODIFIED_HEADERS, "age"):
            if name in full:
                not_modified[name] = full[name]
        await send({"type": "http.response.start", "status": 304, "headers": not_modified.raw})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


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
    """One log line and one set of metrics per request: method, route template, status,
    duration, request id.

    The route TEMPLATE (`/v1/petitions/{slug}`), never the path: a path is whatever the client
    typed (an address, a token, `%0d%0a`), and a template is one of a known few, so it is safe
    in a log line and as a metric label. Query strings, bodies and client addresses are never
    logged (confirmation links carry tokens; privacy rule).

    The request id comes from `X-Request-ID` when a trusted proxy (TRUSTED_PROXIES) sent it and
    it looks like an id; otherwise one is made. Either way it is returned in `X-Request-ID` and
    stamped on every log line written while the request is served.
    """

    def __init__(self, app: ASGIApp, trusted_proxies: list[str] | None = None) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies or []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        request_id = self._request_id(scope)
        token = request_id_var.set(request_id)

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            duration = time.perf_counter() - started
            route = route_template(scope)
            method = scope["method"]
            metrics.observe_request(route, method, status, duration)
            if access_logger.isEnabledFor(logging.INFO):
                duration_ms = round(duration * 1000, 1)
                access_logger.info(
                    "%s %s %d %.1fms",
                    method,
                    route,
                    status,
                    duration_ms,
                    extra={
                        "route": route,
                        "method": method,
                        "status": status,
                        "duration_ms": duration_ms,
                    },
                )
            request_id_var.reset(token)

    def _request_id(self, scope: Scope) -> str:
        if self.trusted_proxies:
            for name, value in scope["headers"]:
                if name == b"x-request-id":
                    given = value.decode("latin-1")
                    client = scope.get("client")
                    peer = client[0] if client else None
                    if _REQUEST_ID.fullmatch(given) and peer_is_trusted(peer, self.trusted_proxies):
                        return given
                    break
        return uuid.uuid4().hex


# What a proxy's request id may look like (a UUID, a hex or base64 token, with - . _ :).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")
UNMATCHED_ROUTE = "(unmatched)"


def route_template(scope: Scope) -> str:
    """The template of the route that served the request, or `(unmatched)` for a 404 on no
    route; never the path itself."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED_ROUTE
    return scope.get("root_path", "") + path if path else UNMATCHED_ROUTE
