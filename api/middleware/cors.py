"""CORS: Starlette's middleware, with a short path for the requests that name no Origin."""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Receive, Scope, Send

from api.middleware.headers import raw_headers

ORIGIN = b"origin"
VARY = b"vary"


class CorsMiddleware(CORSMiddleware):
    """Starlette's CORSMiddleware. A request without an Origin header (a server calling the
    API, a same-origin page, a probe) gets no CORS headers from it, only `Origin` added to
    `Vary`, which Starlette does through a `MutableHeaders` built on every answer; here the
    header list is edited in place, with the same result."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(name == ORIGIN for name, _ in scope["headers"]):
            await super().__call__(scope, receive, send)
            return

        async def vary_on_origin(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_vary_origin(message)
            await send(message)

        await self.app(scope, receive, vary_on_origin)


def add_vary_origin(message: Message) -> None:
    """One `Vary` header: the values the answer had, joined, then `Origin` (as Starlette)."""
    headers = raw_headers(message)
    values = [value for name, value in headers if name.lower() == VARY]
    if values:
        headers[:] = [item for item in headers if item[0].lower() != VARY]
    headers.append((VARY, b", ".join([*values, b"Origin"])))
