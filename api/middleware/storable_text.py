"""Refuse (422) request strings no database can store, at the edge."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.error_handlers import send_problem
from api.errors import FieldError, UnprocessableContent, coded_error, language, validation_detail
from api.text import is_storable_text


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
