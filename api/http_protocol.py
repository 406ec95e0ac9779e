"""The HTTP protocol `advocacy serve` runs: uvicorn's httptools protocol, with the writes of
one turn of the event loop sent to the socket as one.

Why: uvicorn writes a response's head and its body separately, and each write is a system
call that, over loopback or a proxy's connection, also wakes the reader. py-spy of a signing
worker under load: the head's write alone was 7% of the event loop's samples (the body's,
which follows it at once, 1.4%). Held until the end of the loop's turn, the two go out in
one call, and the bytes on the wire are the same: only their timing moves, by the rest of
that turn.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Past this many bytes held, they are sent at once: a body streamed in many chunks within one
# turn is not gathered whole in memory, and the socket's own buffer (whose limit pauses the
# sender, uvicorn's flow control) sees it as it grows.
HOLD_LIMIT = 64 * 1024


class _CorkedTransport:
    """A transport whose writes in one turn of the event loop are sent together, at its end
    (or at close, or once HOLD_LIMIT bytes are held). Everything else is the wrapped
    transport's."""

    __slots__ = ("_held", "_held_bytes", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._held_bytes = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self._send_held)
        self._held.append(data)
        self._held_bytes += len(data)
        if self._held_bytes >= HOLD_LIMIT:
            self._send_held()  # the call already scheduled finds nothing held

    def _send_held(self) -> None:
        held, self._held, self._held_bytes = self._held, [], 0
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self._send_held()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    """httptools's protocol, writing through a `_CorkedTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        corked = _CorkedTransport(transport, self.loop)
        super().connection_made(corked)  # type: ignore[arg-type]
