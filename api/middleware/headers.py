"""Response headers edited in place on the ASGI start message, without building a
`MutableHeaders` (which encodes and lower-cases every name on each request)."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Message


def raw_headers(message: Message) -> list[tuple[bytes, bytes]]:
    """The message's header list, made a list (an app may send a tuple) and kept on it."""
    headers = message.get("headers")
    if not isinstance(headers, list):
        headers = message["headers"] = list(headers or ())
    return headers


def set_header(message: Message, name: bytes, value: bytes) -> None:
    """Set `name` (lower-case) to `value`, replacing any value it had."""
    headers = raw_headers(message)
    headers[:] = [(key, old) for key, old in headers if key.lower() != name]
    headers.append((name, value))


def add_missing(message: Message, defaults: Iterable[tuple[bytes, bytes]]) -> None:
    """Add each (lower-case name, value) the response does not set itself."""
    headers = raw_headers(message)
    present = {key.lower() for key, _ in headers}
    headers.extend(item for item in defaults if item[0] not in present)


def header_value(message: Message, name: bytes) -> bytes | None:
    for key, value in raw_headers(message):
        if key.lower() == name:
            return value
    return None
