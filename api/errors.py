"""Errors as classes, rendered once as RFC 9457 application/problem+json.

Services raise `AppError` subclasses; the handlers below turn them, and every error the
framework raises (404, 405, 422, 500 ...), into the same problem document.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:advocacy:problem:"


class FieldError(BaseModel):
    """One invalid input, named by where it is and what is wrong with it."""

    field: str = Field(description="Dotted name of the field, e.g. `email` or `citations.0.quote`.")
    location: list[str | int] = Field(
        description="Where the value was: first `body`, `query`, `path` or `header`, then the path."
    )
    pointer: str = Field(description="JSON Pointer (RFC 6901) into the request body or params.")
    code: str = Field(description="Machine-readable reason, e.g. `missing`, `string_too_long`.")
    message: str = Field(description="Human-readable reason, safe to show next to the field.")


class Problem(BaseModel):
    """An RFC 9457 problem document. Every error response of this API has this shape."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="A URN naming the kind of problem; stable, safe to switch on.",
        examples=["urn:advocacy:problem:not-found"],
    )
    title: str = Field(description="Short summary of the kind of problem.", examples=["Not Found"])
    status: int = Field(description="The HTTP status code.", examples=[404])
    detail: str = Field(
        description="What went wrong in this occurrence.",
        examples=["No fact with id 'no-such-fact'."],
    )
    instance: str = Field(
        description="The path of the request that failed.", examples=["/v1/facts/no-such-fact"]
    )
    errors: list[FieldError] | None = Field(
        default=None, description="Present on 422: one entry per invalid field."
    )


class AppError(Exception):
    status: int = 500
    code: str = "internal-error"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(AppError):
    status, code = 400, "bad-request"


class Unauthorized(AppError):
    status, code = 401, "unauthorized"


class Forbidden(AppError):
    status, code = 403, "forbidden"


class NotFound(AppError):
    status, code = 404, "not-found"


class Conflict(AppError):
    status, code = 409, "conflict"


class Gone(AppError):
    status, code = 410, "gone"


class PayloadTooLarge(AppError):
    status, code = 413, "payload-too-large"


class UnprocessableContent(AppError):
    status, code = 422, "validation-error"


class TooManyRequests(AppError):
    status, code = 429, "rate-limited"


class ServiceUnavailable(AppError):
    status, code = 503, "service-unavailable"


def field_error(location: Sequence[str | int], message: str, code: str) -> FieldError:
    path = [part for part in location if part not in ("body", "query", "path", "header")]
    return FieldError(
        field=".".join(str(part) for part in path) or str(location[-1]),
        location=list(location),
        pointer="/" + "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in path),
        code=code,
        message=message,
    )


def invalid(field: str, message: str, code: str = "invalid") -> UnprocessableContent:
    """A 422 naming one body field, for rules checked in services rather than schemas."""
    location: list[str | int] = ["body", *(int(p) if p.isdigit() else p for p in field.split("."))]
    return UnprocessableContent(
        f"{field}: {message}", errors=[field_error(location, message, code)]
    )


def problem_document(
    status: int,
    detail: str,
    instance: str,
    *,
    code: str | None = None,
    title: str | None = None,
    errors: Sequence[FieldError] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The RFC 9457 document every error of the API carries, wherever it is produced."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    slug = code or phrase.lower().replace(" ", "-").replace("'", "")
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + slug,
        "title": title or phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        **(extra or {}),
    }
    if errors is not None:
        body["errors"] = [error.model_dump() for error in errors]
    return body


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    code: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body = problem_document(status, detail, request.url.path, code=code, errors=errors, extra=extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


async def send_problem(
    send: Send,
    status: int,
    detail: str,
    instance: str,
    *,
    code: str | None = None,
    title: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer with a problem from pure ASGI middleware, where no Request/Response exists."""
    document = problem_document(status, detail, instance, code=code, title=title, errors=errors)
    body = json.dumps(document).encode()
    raw = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _validation_message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "Invalid value."))
    # pydantic prefixes messages from custom validators with "Value error, ".
    return message.removeprefix("Value error, ")


def validation_field_errors(errors: Sequence[Any]) -> list[FieldError]:
    """pydantic's errors as FieldErrors (also used by the pages' HTML forms)."""
    return [
        field_error(
            [part for part in error.get("loc", ()) if isinstance(part, str | int)] or ["body"],
            _validation_message(error),
            str(error.get("type", "invalid")),
        )
        for error in errors
    ]


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(
        request,
        exc.status,
        exc.detail,
        code=exc.code,
        errors=exc.errors,
        headers=exc.headers,
        extra=exc.extra,
    )


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_field_errors(exc.errors())
    summary = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
    return problem_response(
        request,
        422,
        f"The request is not valid. {summary}",
        code="validation-error",
        errors=errors,
    )


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"Nothing is at {request.url.path}."
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(request, exc.status_code, detail, headers=headers)


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    # Log the exception type and where, never the request body (it may hold personal data).
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        request, 500, "An unexpected error occurred. It has been logged.", code="internal-error"
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unhandled)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the error statuses an operation can return."""
    examples = {
        400: "The request could not be understood.",
        401: "An API key is required: send `Authorization: Bearer <key>`.",
        403: "This API key lacks the scope `petitions:write`.",
        404: "No fact with id 'no-such-fact'.",
        409: "The resource was changed by someone else.",
        413: "The request body is larger than 65536 bytes.",
        422: "The request is not valid. email: value is not a valid email address",
        429: "Too many requests; retry after 30 seconds.",
        503: "The database is not reachable.",
    }
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        phrase = HTTPStatus(status).phrase
        example: dict[str, Any] = {
            "type": PROBLEM_TYPE_PREFIX + phrase.lower().replace(" ", "-"),
            "title": phrase,
            "status": status,
            "detail": examples.get(status, phrase),
            "instance": "/v1/...",
        }
        if status == 422:
            example["type"] = PROBLEM_TYPE_PREFIX + "validation-error"
            example["errors"] = [
                {
                    "field": "email",
                    "location": ["body", "email"],
                    "pointer": "/email",
                    "code": "value_error",
                    "message": "value is not a valid email address",
                }
            ]
        responses[status] = {
            "model": Problem,
            "description": phrase,
            # Written as application/json here; api.openapi moves every error response to
            # application/problem+json, where FastAPI cannot put a model's schema itself.
            "content": {"application/json": {"example": example}},
        }
    return responses
