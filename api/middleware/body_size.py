"""The request body size cap (413), checked by the edge (api.middleware.edge) before any
handler reads a body: the declared Content-Length first, then the bytes as they arrive."""

from __future__ import annotations

from starlette.types import Scope, Send

from api.error_handlers import send_problem
from api.errors import PayloadTooLarge


class BodyTooLarge(Exception):
    """Raised from the edge's `receive` once more than the cap has arrived."""


def declared_too_large(declared: bytes | None, max_bytes: int) -> bool:
    return declared is not None and declared.isdigit() and int(declared) > max_bytes


async def refuse_too_large(scope: Scope, send: Send, max_bytes: int) -> None:
    error = PayloadTooLarge(
        f"The request body is larger than {max_bytes} bytes.",
        headers={"connection": "close"},
    )
    await send_problem(send, error, scope["path"])
