"""Refuse (422) request strings no database can store, at the edge (api.middleware.edge).

Any request string no database can store (NUL, a lone surrogate) in the path, the query, a
JSON body (any field, at any depth) or a form body is refused with a 422 naming the field: one
check at the edge, so no handler meets such a string and none answers 500. A JSON body is only
parsed here when it holds a `\\u` escape, the only way JSON can carry either."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import Scope, Send

from api.error_handlers import send_problem
from api.errors import FieldError, UnprocessableContent, coded_error, language, validation_detail
from api.text import is_storable_text

JSON, FORM = b"application/json", b"application/x-www-form-urlencoded"
CHECKED_BODIES = (JSON, FORM)  # the media types whose bodies are read and checked


def unstorable_in_url(scope: Scope) -> Iterator[FieldError]:
    if not is_storable_text(scope["path"]):
        yield coded_error(["path"], "unstorable_text")
    query: bytes = scope["query_string"]
    if not query:
        return
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if not (is_storable_text(name) and is_storable_text(value)):
            yield coded_error(["query", name], "unstorable_text")


def unstorable_in_body(body: bytes, content_type: bytes) -> Iterator[FieldError]:
    if content_type.startswith(FORM):
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


async def refuse_unstorable(scope: Scope, send: Send, errors: list[FieldError]) -> None:
    errors = errors[:20]
    error = UnprocessableContent(validation_detail(errors), errors=errors)
    await send_problem(send, error, scope["path"], language(Headers(scope=scope)))
