"""A per-process micro-cache of shareable API answers (RESPONSE_CACHE_SECONDS).

It keeps only what the response itself lets any shared cache keep (`Cache-Control: public`
with a `max-age`, no cookie, varying on nothing but the Accept headers), for at most
`fresh_seconds` and never past its max-age, and replays it with an `Age` header as a proxy
would add. So under a burst of readers a representation is built once per `fresh_seconds`,
not once per request; while one request rebuilds an expired entry, the others wait for it, or
are served the old copy if the response allows `stale-while-revalidate` (only while that
rebuild runs, and never past the response's own allowance). Requests with credentials bypass
it.

What it keeps is what api.middleware.etag tagged (that layer runs inside this one), with its
ETag, so a replay answers `If-None-Match` with 304 too. The cache is registered as
`responses` in the app's registry (api.caches): code that changes what the API answers empties
it after its commit (every admin write does), so staff see their own edits at once (other
processes within `fresh_seconds`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware.etag import KEEP_REPRESENTATION, send_representation

# The cache key holds the Accept headers, so a response varying on them (or on headers the
# outer middleware answers for) may be kept; one varying on anything else may not.
_VARY_ALLOWED = frozenset({"accept", "accept-language", "accept-encoding", "origin"})

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


class _Build:
    """One request building a key's answer; `done` is made by the first request that waits
    for it (most builds have none: a per-request event cost more than the lookup)."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done: anyio.Event | None = None


class ResponseCache:
    """The kept answers, and which keys are being built now."""

    def __init__(self, fresh_seconds: float = 0.0, max_entries: int = 512) -> None:
        self.fresh_seconds = fresh_seconds
        self.max_entries = max_entries
        self.max_body_bytes = 256 * 1024
        self._stored: dict[_Key, _Stored] = {}
        # One request per key builds the representation; the others wait for it.
        self._building: dict[_Key, _Build] = {}
        # Bumped by every clear: an answer built from data read before it is not kept.
        self._generation = 0

    def clear(self) -> None:
        self._stored.clear()
        self._generation += 1

    def look_up(self, key: _Key) -> tuple[_Stored | None, _Build | None, _Build | None]:
        """(the stored answer to replay, this request's own build, another request's build to
        `wait_for`): at most one of them; none when too many keys are being built."""
        stored = self._stored.get(key)
        now = time.monotonic()
        if stored is not None and stored.fresh_until > now:
            return stored, None, None
        building = self._building.get(key)
        if building is None:
            if len(self._building) >= self.max_entries:
                return None, None, None
            leading = self._building[key] = _Build()
            return None, leading, None
        if stored is not None and stored.stale_until > now:
            return stored, None, None
        return None, None, building

    async def wait_for(self, key: _Key, building: _Build) -> _Stored | None:
        """A crowd arriving at a cold or expired URL costs one build, not one each: the answer
        that build kept, once it is released. If that answer is not shareable (an event
        stream, no-store), the request building it lets the others go as soon as its response
        starts, and each builds its own."""
        if building.done is None:
            building.done = anyio.Event()
        await building.done.wait()
        stored = self._stored.get(key)
        if stored is not None and stored.fresh_until > time.monotonic():
            return stored
        return None

    @property
    def generation(self) -> int:
        return self._generation

    def keep(
        self,
        key: _Key,
        generation: int,
        raw_headers: list[tuple[bytes, bytes]],
        body: bytes,
        etag: str,
    ) -> None:
        if generation != self._generation or len(body) > self.max_body_bytes:
            return
        lifetime = _shared_lifetime(raw_headers)
        if lifetime is None:
            return
        max_age, stale_while_revalidate = lifetime
        now = time.monotonic()
        if len(self._stored) >= self.max_entries:
            self._stored = {k: v for k, v in self._stored.items() if v.fresh_until > now}
            if len(self._stored) >= self.max_entries:
                return
        self._stored[key] = _Stored(
            status_headers=list(raw_headers),
            body=body,
            etag=etag,
            stored_at=now,
            fresh_until=now + min(self.fresh_seconds, max_age),
            stale_until=now + min(self.fresh_seconds, max_age) + stale_while_revalidate,
        )

    def release(self, key: _Key, build: _Build) -> None:
        # Only our own build: once released, another request may be building this key.
        if self._building.get(key) is not build:
            return
        del self._building[key]
        if build.done is not None:
            build.done.set()
        stale = self._stored.get(key)
        if stale is not None and stale.fresh_until <= time.monotonic():
            del self._stored[key]  # not rebuilt: no longer shareable


class ResponseCacheMiddleware:
    """Serve GET answers from `cache` while they are fresh; keep the shareable ones."""

    def __init__(self, app: ASGIApp, cache: ResponseCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cache = self.cache
        if scope["type"] != "http" or scope["method"] != "GET" or cache.fresh_seconds <= 0:
            await self.app(scope, receive, send)
            return
        if_none_match = accept = accept_language = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if_none_match = value.decode("latin-1")
            elif name == b"accept":
                accept = value
            elif name == b"accept-language":
                accept_language = value
            elif name in (b"authorization", b"cookie"):
                await self.app(scope, receive, send)  # credentials: never shared
                return

        key = (scope["path"], _canonical_query(scope), accept, accept_language)
        stored, leading, building = cache.look_up(key)
        if building is not None:
            stored = await cache.wait_for(key, building)
        if stored is not None:
            await _replay(send, stored, if_none_match)
            return

        generation = cache.generation

        def keep(raw_headers: list[tuple[bytes, bytes]], body: bytes, etag: str) -> None:
            cache.keep(key, generation, raw_headers, body, etag)

        scope[KEEP_REPRESENTATION] = keep
        if leading is None:
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, _releasing_at_start(send, cache, key, leading))
        finally:
            cache.release(key, leading)


def _releasing_at_start(send: Send, cache: ResponseCache, key: _Key, leading: _Build) -> Send:
    """Let the waiters go once the answer starts: a kept answer was kept before its start is
    sent (api.middleware.etag), and one that was not kept is not worth waiting for."""

    async def releasing_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            cache.release(key, leading)
        await send(message)

    return releasing_send


async def _replay(send: Send, stored: _Stored, if_none_match: str | None) -> None:
    age = str(int(time.monotonic() - stored.stored_at)).encode()
    headers = [*stored.status_headers, (b"age", age)]
    await send_representation(send, headers, stored.body, stored.etag, if_none_match)


def _canonical_query(scope: Scope) -> bytes:
    """The query as parameters, not as bytes: the same parameters in another order or
    percent-encoding are one cache entry. (Parameters a route does not take never get here
    as a 200: they are refused, see api.routing.ApiRoute.)"""
    query: bytes = scope["query_string"]
    if not query:
        return query
    pairs = sorted(parse_qsl(query.decode("latin-1"), keep_blank_values=True))
    return urlencode(pairs).encode()


def _shared_lifetime(raw_headers: list[tuple[bytes, bytes]]) -> tuple[float, float] | None:
    """(max-age, stale-while-revalidate) in seconds for a shared cache, or None if a shared
    cache may not keep this response."""
    if not any(
        name == b"cache-control" and b"public" in value.lower() for name, value in raw_headers
    ):
        return None  # most answers: no need to parse them
    headers = Headers(raw=raw_headers)
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
