"""Errors as classes, and the RFC 9457 application/problem+json document each renders as.

Services raise `AppError` subclasses; api.error_handlers answers them, and every error the
framework raises (404, 405, 422, 500 ...), with the same problem document. The OpenAPI
documentation of an operation's errors comes from the same classes (`problem_responses`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from api.field_errors import DEFAULT_LANGUAGE, MESSAGES, from_pydantic, render
from api.web.i18n import language_from_accept

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:advocacy:problem:"


class FieldError(BaseModel):
    """One invalid input, named by where it is and what is wrong with it."""

    field: str = Field(description="Dotted name of the field, e.g. `email` or `citations.0.quote`.")
    location: list[str | int] = Field(
        description="Where the value was: first `body`, `query`, `path` or `header`, then the path."
    )
    pointer: str = Field(description="JSON Pointer (RFC 6901) into the request body or params.")
    code: str = Field(
        description="Why the value was refused: a stable code, safe to switch on. "
        + ", ".join(f"`{code}`" for code in MESSAGES)
        + ". Staff (admin) operations add codes for their own rules, e.g. `quote_not_verbatim`.",
        examples=["required", "too_long", "invalid_email", "unknown_postal_code"],
    )
    message: str = Field(
        description="Why, in words safe to show next to the field: in Spanish when the request "
        "prefers it (`Accept-Language: es`), else in English."
    )
    # Set when the message comes from our table: it can then be given in another language.
    _params: dict[str, Any] | None = PrivateAttr(default=None)

    def in_language(self, lang: str) -> FieldError:
        if self._params is None or lang == DEFAULT_LANGUAGE:
            return self
        translated = self.model_copy(update={"message": render(self.code, lang, self._params)})
        translated._params = self._params
        return translated


class Problem(BaseModel):
    """An RFC 9457 problem document. Every error response of this API has this shape."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        # api.openapi lists every type the API sends (from the error classes) here.
        description="A URN naming the kind of problem; stable, safe to switch on.",
        examples=["urn:advocacy:problem:not-found"],
    )
    title: str = Field(description="Short summary of the kind of problem.", examples=["Not Found"])
    status: int = Field(description="The HTTP status code.", examples=[404])
    detail: str = Field(
        description="What went wrong in this occurrence.",
        examples=["No petition with slug 'no-such-petition'."],
    )
    instance: str = Field(
        description="The path of the request that failed.",
        examples=["/v1/petitions/no-such-petition"],
    )
    errors: list[FieldError] | None = Field(
        default=None, description="Present on 422: one entry per invalid field, all at once."
    )


class AppError(Exception):
    """The base of every error the API answers with; as itself, an internal error."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal Server Error"
    example: ClassVar[str] = "An unexpected error occurred. It has been logged."
    # Response headers this error carries (documented in api.openapi's RESPONSE_HEADERS).
    headers_sent: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        detail = self.example if detail is None else detail
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = headers or {}
        self.extra = extra or {}

    @classmethod
    def type_uri(cls) -> str:
        return PROBLEM_TYPE_PREFIX + cls.code


class InternalError(AppError):
    """Something went wrong on our side; it has been logged. Retrying later may help."""


class BadRequest(AppError):
    """The request could not be understood, e.g. a body that is not UTF-8 JSON text."""

    status, code, title = 400, "bad-request", "Bad Request"
    example = "The request could not be understood."


class Unauthorized(AppError):
    """No API key, or one that is unknown or revoked: send `Authorization: Bearer adv_...`."""

    status, code, title = 401, "unauthorized", "Unauthorized"
    example = "An API key is required: send `Authorization: Bearer <key>`."
    headers_sent: ClassVar[tuple[str, ...]] = ("WWW-Authenticate",)


class Forbidden(AppError):
    """The API key lacks a scope this operation needs."""

    status, code, title = 403, "forbidden", "Forbidden"
    example = "This API key lacks the scope `petitions:write`."
    headers_sent: ClassVar[tuple[str, ...]] = ("WWW-Authenticate",)


class BlockedNetwork(Forbidden):
    """Signing from the caller's network is blocked by staff."""

    example = "Signing from this network is blocked. Contact the campaign if in error."
    headers_sent: ClassVar[tuple[str, ...]] = ()


class NotFound(AppError):
    """Nothing has this id or slug."""

    status, code, title = 404, "not-found", "Not Found"
    example = "Nothing is at this address."


class MethodNotAllowed(AppError):
    """This path does not take this method; `Allow` lists those it takes."""

    status, code, title = 405, "method-not-allowed", "Method Not Allowed"
    example = "DELETE is not allowed on /v1/facts."
    headers_sent = ("Allow",)


class Conflict(AppError):
    """The resource is not in a state that allows this."""

    status, code, title = 409, "conflict", "Conflict"
    example = "The resource is not in a state that allows this."


class PetitionNotOpen(Conflict):
    """The petition takes no signatures now: it is closed, or not open yet."""

    example = "The petition 'florida-minimum-arrest-age-12' is closed; it takes no signatures."


class IdempotencyInProgress(Conflict):
    """A request with this `Idempotency-Key` is still being processed: retry after
    `Retry-After` seconds to get its answer."""

    example = "A request with this Idempotency-Key is still being processed; retry shortly."
    headers_sent = ("Retry-After",)


class Gone(AppError):
    """The link has expired, or what it pointed at was withdrawn or removed."""

    status, code, title = 410, "gone", "Gone"
    example = "This confirmation link has expired. Sign again to get a new one."


class PayloadTooLarge(AppError):
    """The request body is larger than the server accepts (`MAX_BODY_BYTES`, 64 KiB by
    default)."""

    status, code, title = 413, "payload-too-large", "Payload Too Large"
    example = "The request body is larger than 65536 bytes."


class UnprocessableContent(AppError):
    """The request is not valid: `errors` lists every invalid field at once, each with a
    stable `code` and a `message` to show next to the field."""

    status, code, title = 422, "validation-error", "Unprocessable Entity"
    example = "The request is not valid."


class IdempotencyKeyReused(UnprocessableContent):
    """This `Idempotency-Key` was already used with a different request: use a fresh key per
    action."""

    example = "This Idempotency-Key was already used with a different request."


class TooManyRequests(AppError):
    """Too many requests from this client: retry after `Retry-After` seconds. `RateLimit`
    and `RateLimit-Policy` say how many remain and in what window."""

    status, code, title = 429, "rate-limited", "Too Many Requests"
    example = "Too many requests; retry after 30 seconds."
    headers_sent = ("Retry-After", "RateLimit", "RateLimit-Policy")


class ServiceUnavailable(AppError):
    """The service cannot answer now: retry after `Retry-After` seconds."""

    status, code, title = 503, "service-unavailable", "Service Unavailable"
    example = "The service is not available now; please try again later."
    headers_sent = ("Retry-After",)


class SigningPaused(ServiceUnavailable):
    """Staff have paused signing (all petitions, or this one): retry after `Retry-After`
    seconds."""

    example = "Signing is paused for now; please try again later."


class DatabaseUnavailable(ServiceUnavailable):
    """The database does not answer."""

    example = "The database is not reachable."


def app_error_classes() -> list[type[AppError]]:
    """Every error class, so every problem `type` the API can send is known in one place."""
    found: list[type[AppError]] = [AppError]
    for cls in found:
        found.extend(sub for sub in cls.__subclasses__() if sub not in found)
    return found


def field_error(location: Sequence[str | int], message: str, code: str) -> FieldError:
    path = [part for part in location if part not in ("body", "query", "path", "header")]
    return FieldError(
        field=".".join(str(part) for part in path) or str(location[-1]),
        location=list(location),
        pointer="/" + "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in path),
        code=code,
        message=message,
    )


def coded_error(location: Sequence[str | int], code: str, **params: Any) -> FieldError:
    """A field error whose message comes from our table, in the language asked for."""
    error = field_error(location, render(code, DEFAULT_LANGUAGE, params), code)
    error._params = params
    return error


def invalid(field: str, message: str, code: str = "invalid") -> UnprocessableContent:
    """A 422 naming one body field, for rules checked in services rather than schemas."""
    return UnprocessableContent(
        f"{field}: {message}", errors=[field_error(_body_location(field), message, code)]
    )


def invalid_field(field: str, code: str, **params: Any) -> UnprocessableContent:
    """A 422 naming one body field with a code of ours (its message in the caller's language)."""
    error = coded_error(_body_location(field), code, **params)
    return UnprocessableContent(f"{field}: {error.message}", errors=[error])


def _body_location(field: str) -> list[str | int]:
    return ["body", *(int(p) if p.isdigit() else p for p in field.split("."))]


def validation_detail(errors: Sequence[FieldError], lang: str = DEFAULT_LANGUAGE) -> str:
    """The `detail` of a 422: a sentence, then the first few fields and why."""
    lead = {"es": "La solicitud no es válida."}.get(lang, "The request is not valid.")
    return f"{lead} " + "; ".join(f"{e.field}: {e.message}" for e in errors[:5])


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


def error_document(error: AppError, instance: str, lang: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    errors = None if error.errors is None else [e.in_language(lang) for e in error.errors]
    detail = error.detail
    if errors is not None and lang != DEFAULT_LANGUAGE and isinstance(error, UnprocessableContent):
        detail = validation_detail(errors, lang)
    return problem_document(
        error.status,
        detail,
        instance,
        code=error.code,
        title=error.title,
        errors=errors,
        extra=error.extra,
    )


def language(headers: Mapping[str, str]) -> str:
    """The language of field error messages: Spanish if Accept-Language prefers it."""
    return language_from_accept(headers.get("accept-language"))


def _request_field_error(error: dict[str, Any]) -> FieldError:
    location = [part for part in error.get("loc", ()) if isinstance(part, str | int)] or ["body"]
    code, params = from_pydantic(error)
    return coded_error(location, code, **params)


def validation_field_errors(errors: Sequence[Any]) -> list[FieldError]:
    """pydantic's errors as our FieldErrors (also used by the pages' HTML forms)."""
    return [_request_field_error(error) for error in errors]


# --- documentation ----------------------------------------------------------------------------

EXAMPLE_INSTANCE = "/v1/..."  # api.openapi puts each operation's own path here


def problem_responses(*raised: type[AppError] | AppError) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the errors an operation raises, from the error classes
    themselves: each status's description from the classes' docstrings, an example per class
    (or per instance given, for a detail of this operation's own), the headers they send."""
    by_status: dict[int, list[AppError]] = {}
    for item in raised:
        error = item if isinstance(item, AppError) else item()
        by_status.setdefault(error.status, []).append(error)
    return {status: documented(group) for status, group in sorted(by_status.items())}


def documented(errors: Sequence[AppError]) -> dict[str, Any]:
    """One OpenAPI response for errors of one status."""
    examples: dict[str, Any] = {}
    descriptions: list[str] = []
    headers: list[str] = []
    for error in errors:
        name = type(error).__name__
        if name in examples:
            name += str(len(examples) + 1)
        description = " ".join((type(error).__doc__ or error.title).split())
        examples[name] = {
            "summary": description.split(":")[0].split(".")[0],
            "value": error_document(error, EXAMPLE_INSTANCE),
        }
        if description not in descriptions:
            descriptions.append(description)
        headers += [h for h in error.headers_sent if h not in headers]
    response: dict[str, Any] = {
        "description": " Or: ".join(descriptions),
        # Written as application/json here; api.openapi moves every error response to
        # application/problem+json with the Problem schema (api.openapi_problems.problem_json).
        # No `model`: FastAPI would build a serializer for each of the ~150 error responses
        # at start, and never use one; api.openapi puts Problem in the components itself.
        "content": {"application/json": {"examples": examples}},
    }
    if headers:
        response["headers"] = {name: {"$ref": f"#/components/headers/{name}"} for name in headers}
    return response
