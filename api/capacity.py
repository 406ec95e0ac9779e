"""How much of the process's file descriptors clients may hold: event streams per client and
in total, and connections in total. Each open connection is a descriptor; when they run out,
every new connection (health checks, signing) is dropped without an answer. So streams are
bounded well below the limit (429 per client, 503 in total, both problem+json with
Retry-After, see api.web.events) and connections just below it (503 problem+json).
"""

from __future__ import annotations

import importlib
import json
import resource
import sys

from starlette.types import Receive, Scope, Send

from api.config import Settings
from api.errors import problem_document

# Descriptors kept for what is not a client connection: database connections, the log, the
# SQLite files, the listening socket, the mail worker's SMTP connection.
RESERVED_DESCRIPTORS = 128
OVERLOAD_RETRY_AFTER_SECONDS = 5
_PROTOCOLS = "uvicorn.protocols.http"  # uvicorn's HTTP protocol modules


def raise_descriptor_limit() -> int:
    """Raise the soft limit on open files to the hard limit (at serve start; workers inherit
    it). Returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # not allowed here: keep the soft limit
    return soft


def descriptor_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def max_connections(settings: Settings) -> int:
    """SERVER_MAX_CONNECTIONS, or (0) the descriptor limit less a reserve."""
    if settings.server_max_connections:
        return settings.server_max_connections
    return max(32, descriptor_limit() - RESERVED_DESCRIPTORS)


def max_streams(settings: Settings) -> int:
    """SSE_MAX_STREAMS, or (0) half the connections: streams never crowd out other requests."""
    if settings.sse_max_streams:
        return settings.sse_max_streams
    return max(16, max_connections(settings) // 2)


_OVERLOADED = json.dumps(
    problem_document(
        503,
        "The server has as many connections open as it can hold; retry in a few seconds.",
        "/",
        code="service-unavailable",
    )
).encode()


async def overloaded(scope: Scope, receive: Receive, send: Send) -> None:
    """uvicorn's answer past its connection limit, as problem+json with Retry-After (its own is
    plain text without Retry-After)."""
    body = _OVERLOADED
    if "path" in scope:
        document = json.loads(body)
        document["instance"] = scope["path"]
        body = json.dumps(document).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(OVERLOAD_RETRY_AFTER_SECONDS).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install_overload_answer() -> None:
    """Make every uvicorn HTTP protocol answer `overloaded` past `limit_concurrency`. (uvicorn
    has no setting for that answer; each protocol module imports its own reference.)

    Only the protocols already loaded are patched, and the one `advocacy serve` uses: uvicorn
    loads its protocol before it imports the app, so the one in use is among them, and the
    others' parsers (h11: ~13 ms) are not loaded by every start for nothing."""
    loaded = {name.rsplit(".", 1)[1] for name in sys.modules if name.startswith(_PROTOCOLS + ".")}
    for name in {"flow_control", "httptools_impl"} | loaded:
        try:
            module = importlib.import_module(f"{_PROTOCOLS}.{name}")
        except ImportError:
            continue  # that protocol's parser is not installed
        if hasattr(module, "service_unavailable"):
            setattr(module, "service_unavailable", overloaded)  # noqa: B010
