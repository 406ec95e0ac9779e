"""A JSON request body validated once, from the raw bytes, for the hot path.

A body parameter (`body: Model`) costs FastAPI a generic dependency solve, a JSON parse into
Python objects, then a validation of those objects. `json_body` parses and validates in one
pass (`model_validate_json`) and raises exactly the `RequestValidationError` a body parameter
raises, located under `body`, so the answer to a bad body is the same problem document.
`json_body_openapi` documents the body as a body parameter would.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


async def json_body(request: Request, model: type[Model]) -> Model:
    raw = await request.body()
    if not raw:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    try:
        if not _is_json(request.headers.get("content-type")):
            # As FastAPI does: a body that is not JSON is validated as it is (and refused).
            return model.model_validate(raw)
        if raw.isascii() or _is_utf8(raw):
            return model.model_validate_json(raw)
        # Not UTF-8: what FastAPI does (json.loads also reads UTF-16 and UTF-32 text, and
        # bytes it cannot read are a 400).
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            invalid = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}
            raise RequestValidationError(
                [{**invalid, "input": {}, "ctx": {"error": exc.msg}}]
            ) from None
        except Exception:
            raise HTTPException(
                status_code=400, detail="There was an error parsing the body"
            ) from None
        return model.model_validate(value)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from None


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_json(content_type: str | None) -> bool:
    """FastAPI's rule: no Content-Type, `application/json` or `application/*+json`."""
    if not content_type:
        return True
    media_type = content_type.partition(";")[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


# The models routes read with `json_body`: api.openapi adds their schemas to the components.
JSON_BODY_MODELS: list[type[BaseModel]] = []


def json_body_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route reading `model` with `json_body`: its body documented as a
    body parameter would be."""
    if model not in JSON_BODY_MODELS:
        JSON_BODY_MODELS.append(model)
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        # What FastAPI adds for a body parameter; api.openapi makes it the problem document.
        "responses": {"422": {"description": "Validation Error"}},
    }
