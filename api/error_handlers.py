"""How an error becomes an answer: the exception handlers of the app, and `send_problem` for
pure ASGI middleware. Every error, ours (api.errors) or the framework's (404, 405, 422, 500
...), is answered with the same RFC 9457 problem document.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from api.errors import (
    PROBLEM_MEDIA_TYPE,
    AppError,
    BadRequest,
    InternalError,
    MethodNotAllowed,
    NotFound,
    UnprocessableContent,
    error_document,
    language,
    problem_document,
    validation_detail,
    validation_field_errors,
)
from api.field_errors import DEFAULT_LANGUAGE

logger = logging.getLogger(__name__)


def problem_response(request: Request, error: AppError) -> JSONResponse:
    body = error_document(error, request.url.path, language(request.headers))
    return JSONResponse(
        body, status_code=error.status, media_type=PROBLEM_MEDIA_TYPE, headers=error.headers
    )


async def send_problem(
    send: Send, error: AppError, instance: str, lang: str = DEFAULT_LANGUAGE
) -> None:
    """Answer with a problem from pure ASGI middleware, where no Request/Response exists."""
    body = json.dumps(error_document(error, instance, lang)).encode()
    raw = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    raw += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(request, exc)


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_field_errors(exc.errors())
    return problem_response(request, UnprocessableContent(validation_detail(errors), errors=errors))


# The framework's own errors (unknown path, wrong method), as our classes.
_FRAMEWORK_ERRORS: dict[int, type[AppError]] = {
    400: BadRequest,
    404: NotFound,
    405: MethodNotAllowed,
}


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"Nothing is at {request.url.path}."
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    headers = dict(exc.headers) if exc.headers else None
    error_class = _FRAMEWORK_ERRORS.get(exc.status_code)
    if error_class is None:  # a status we never raise ourselves: named after its phrase
        body = problem_document(exc.status_code, detail, request.url.path)
        return JSONResponse(
            body, status_code=exc.status_code, media_type=PROBLEM_MEDIA_TYPE, headers=headers
        )
    return problem_response(request, error_class(detail, headers=headers))


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    # Log the exception type and where, never the request body (it may hold personal data).
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(request, InternalError())


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unhandled)
