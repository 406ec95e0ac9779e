"""A JSON request body validated once, from the raw bytes, for the hot path.

A body parameter (`body: Model`) costs FastAPI a generic dependency solve, a JSON parse into
Python objects, then a validation of those objects. `json_body` parses and validates in one
pass (`model_validate_json`) and raises exactly the `RequestValidationError` a body parameter
raises, located under `body`, so the answer to a bad body is the same problem document.
`json_body_openapi` documents the body as a body parameter would.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


async def json_body(request: Request, model: type[Model]) -> Model:
    raw = await request.body()
    if not raw:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    try:
        if _is_json(request.headers.get("content-type")):
            return model.model_validate_json(raw)
        # As FastAPI does: a body that is not JSON is validated as it is (and refused).
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from None


def _is_json(content_type: str | None) -> bool:
    """FastAPI's rule: no Content-Type, `application/json` or `application/*+json`."""
    if not content_type:
        return True
    media_type = content_type.partition(";")[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def json_body_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route reading `model` with `json_body` (api.openapi adds the
    model's schema to the components)."""
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
