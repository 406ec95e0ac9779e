"""The access log, request metrics and request id, by route template (used by the edge,
api.middleware.edge).

One log line and one set of metrics per request: method, route template, status, duration,
request id. The route TEMPLATE (`/v1/petitions/{slug}`), never the path: a path is whatever the
client typed (an address, a token, `%0d%0a`), and a template is one of a known few, so it is
safe in a log line and as a metric label. Query strings, bodies and client addresses are never
logged (confirmation links carry tokens; privacy rule).

The request id comes from `X-Request-ID` when a trusted proxy (TRUSTED_PROXIES) sent it and it
looks like an id; otherwise one is made. Either way it is returned in `X-Request-ID` and
stamped on every log line written while the request is served.
"""

from __future__ import annotations

import logging
import random
import re

from starlette.types import Scope

from api import metrics
from api.abuse.client import peer_is_trusted

access_logger = logging.getLogger("api.access")


def request_id_for(scope: Scope, trusted_proxies: list[str]) -> str:
    if trusted_proxies:
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                client = scope.get("client")
                peer = client[0] if client else None
                if _REQUEST_ID.fullmatch(given) and peer_is_trusted(peer, trusted_proxies):
                    return given
                break
    # Unique, not secret: the module's generator (reseeded in every forked worker) rather than
    # os.urandom, whose system call lets go of the GIL on the event loop, which then waits for
    # the group-commit writer to give it back (py-spy: 8% of a signing worker's loop).
    return f"{random.getrandbits(128):032x}"


def log_request(scope: Scope, status: int, duration: float) -> None:
    """The request's metrics, and its access-log line when INFO is on."""
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
            extra={"route": route, "method": method, "status": status, "duration_ms": duration_ms},
        )


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
