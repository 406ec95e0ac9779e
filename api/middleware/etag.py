"""Strong ETags on JSON answers, and 304 Not Modified when the client already holds one.

The tag is a hash of the exact bytes, so it changes exactly when the representation does.
Streaming media types (event streams, CSV exports) are passed through untouched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A layer outside this one may ask for each representation tagged here, whole, before the
# 304 decision (the response cache keeps it): a callable in the scope under this key, given
# (status headers, body, etag).
KEEP_REPRESENTATION = "advocacy.keep_representation"
KeepRepresentation = Callable[[list[tuple[bytes, bytes]], bytes, str], None]

_NOT_MODIFIED_HEADERS = ("etag", "cache-control", "vary", "content-location", "expires")


class ETagMiddleware:
    """Give JSON (and CSL) GET responses a strong ETag; answer a matching If-None-Match 304."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, self._tagging_send(scope, send))

    def _tagging_send(self, scope: Scope, send: Send) -> Send:
        start: Message | None = None
        chunks: list[bytes] = []
        buffering = False

        async def buffering_send(message: Message) -> None:
            nonlocal start, buffering
            if message["type"] == "http.response.start":
                buffering = message["status"] == 200 and _taggable(message["headers"])
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
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
            # _taggable saw no ETag among the headers: this one is added, not replaced.
            raw_headers = [*start["headers"], (b"etag", etag.encode("latin-1"))]
            keep: KeepRepresentation | None = scope.get(KEEP_REPRESENTATION)
            if keep is not None:
                keep(raw_headers, body, etag)
            await send_representation(send, raw_headers, body, etag, if_none_match(scope))

        return buffering_send


def _taggable(raw_headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """A JSON (or CSL) answer that has no ETag yet: one pass over the headers, every GET."""
    content_type: bytes | None = None
    for name, value in raw_headers:
        if name == b"etag":
            return False
        if name == b"content-type" and content_type is None:
            content_type = value
    return content_type is not None and content_type.startswith(_TAGGED_MEDIA_TYPES)


_TAGGED_MEDIA_TYPES = (b"application/json", b"application/vnd.citationstyles")


def if_none_match(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            decoded: str = value.decode("latin-1")
            return decoded
    return None


async def send_representation(
    send: Send,
    raw_headers: list[tuple[bytes, bytes]],
    body: bytes,
    etag: str,
    if_none_match: str | None,
) -> None:
    """Send a tagged 200, or a 304 with the headers that describe it if the client's
    `If-None-Match` names it."""
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
