"""Keyset (cursor) pagination shared by every list endpoint.

A cursor is the sort key of the last item of a page, opaque to clients (base64url JSON). Keyset
pages stay fast and stable while rows are added, unlike offsets.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, literal, tuple_
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session
from sqlmodel.sql.expression import SelectOfScalar

from api.errors import UnprocessableContent, coded_error
from api.text import is_storable_text

T = TypeVar("T")
Row = TypeVar("Row")

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_LIMIT = 100
DEFAULT_LIMIT = 20


class Page(BaseModel, Generic[T]):
    items: list[T]

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        """`Page[FactPublic]` is `FactPage` (api.openapi names its schema so too)."""
        return page_name(params[0].__name__)

    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
    next: str | None = Field(description="The next page's URL (path and query); null at the end.")


def page_name(item_name: str) -> str:
    return item_name.removesuffix("Public") + "Page"


class PageParams(BaseModel):
    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page (at most {MAX_LIMIT}).")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(max_length=500, description="The `next_cursor` of the previous page."),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


def _encode(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, dt.date | dt.datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str, columns: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise ValueError("wrong shape")
        values: list[Any] = []
        for column, value in zip(columns, raw, strict=True):
            column_type = column.type
            if isinstance(column_type, TypeDecorator):
                column_type = column_type.impl_instance
            python_type = column_type.python_type
            if python_type in (dt.date, dt.datetime):
                value = python_type.fromisoformat(value)
                if isinstance(value, dt.datetime) and value.tzinfo is None:
                    raise ValueError("timestamps in cursors carry their zone")
            elif not isinstance(value, python_type) or isinstance(value, bool):
                raise ValueError("wrong type")
            elif isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
                raise ValueError("integer out of range")  # no database column holds it
            elif isinstance(value, str) and not is_storable_text(value):
                raise ValueError("characters no database column holds")
            values.append(value)
        return values
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise UnprocessableContent(
            "cursor: not a cursor this API issued; start again without it.",
            errors=[coded_error(["query", "cursor"], "invalid_cursor")],
        ) from exc


def paginate(
    session: Session,
    statement: SelectOfScalar[Row],
    order_by: Sequence[Any],  # mapped columns, e.g. [Fact.position, Fact.id]
    params: PageParams,
    *,
    key: Callable[[Row], Sequence[Any]],
    descending: bool = False,
) -> tuple[list[Row], str | None]:
    """Run `statement` one page at a time, ordered by the unique key `order_by`.

    Returns the page's rows and the cursor for the next page (None on the last page).
    """
    if params.cursor is not None:
        # Bound with each column's own type, so e.g. UTC timestamps compare as stored.
        values = _decode(params.cursor, order_by)
        last = tuple_(
            *(literal(v, column.type) for v, column in zip(values, order_by, strict=True))
        )
        after: ColumnElement[bool] = (
            tuple_(*order_by) < last if descending else tuple_(*order_by) > last
        )
        statement = statement.where(after)
    ordering = [column.desc() for column in order_by] if descending else list(order_by)
    rows = list(session.exec(statement.order_by(*ordering).limit(params.limit + 1)).all())
    if len(rows) <= params.limit:
        return rows, None
    rows = rows[: params.limit]
    return rows, _encode(key(rows[-1]))


def page_of(request: Request, items: list[T], cursor: str | None) -> Page[T]:
    """The page response, with a `next` link that keeps the request's filters."""
    link = None
    if cursor is not None:
        kept = {k: v for k, v in request.query_params.items() if k != "cursor"}
        link = f"{request.url.path}?{urlencode({**kept, 'cursor': cursor})}"
    return Page(items=items, next_cursor=cursor, next=link)
