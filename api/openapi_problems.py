"""The error responses of the OpenAPI document: from the error classes each route declares
(api.errors), plus those every operation of a kind can meet (500 anywhere; 409, 413 and 422
where a body or a key is sent), each an application/problem+json example with the
operation's own path.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from api.errors import (
    EXAMPLE_INSTANCE,
    PROBLEM_MEDIA_TYPE,
    AppError,
    BadRequest,
    FieldError,
    Forbidden,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InternalError,
    PayloadTooLarge,
    UnprocessableContent,
    app_error_classes,
    coded_error,
    documented,
    validation_detail,
)

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Make a retry safe: a repeat with the same key and body within 24 hours "
    "replays the first answer (with `Idempotent-Replayed: true`) instead of acting twice. The "
    "same key with a different body is a 422; while the first is still being processed, a "
    "409 with `Retry-After`. Generate a fresh random value (e.g. `crypto.randomUUID()`) per "
    "action and keep it for that action's retries; when trying operations here, leave it "
    "empty or type a new one each time.",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
}


def document_common_problems(
    schema: dict[str, Any], path: str, method: str, operation: dict[str, Any]
) -> None:
    """The problems an operation meets because of its kind, not its rules."""
    responses: dict[str, Any] = operation["responses"]
    raised: list[type[AppError] | AppError] = [InternalError]
    if method == "post":
        operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
        raised += [IdempotencyInProgress, IdempotencyKeyReused]
    if "requestBody" in operation:
        # Bytes that are not UTF-8 JSON text are refused by the framework before validation.
        raised += [BadRequest("There was an error parsing the body"), PayloadTooLarge]
    if "422" in responses:
        raised.append(_validation_example(schema, operation))
    for error in raised:
        instance = error() if isinstance(error, type) else error
        _merge(responses, str(instance.status), documented([instance]))


def forbidden_names_the_scopes(operation: dict[str, Any]) -> None:
    """A 403 names the scopes of this operation, as api.admin.auth words it."""
    scopes = [
        scope for entry in operation.get("security", []) for s in entry.values() for scope in s
    ]
    if "403" not in operation["responses"] or not scopes:
        return
    error = Forbidden(
        f"This API key lacks the scope `{scopes[0]}`.", extra={"required_scopes": scopes}
    )
    operation["responses"]["403"] = documented([error])


def _merge(responses: dict[str, Any], status: str, addition: dict[str, Any]) -> None:
    """Add one error's documentation to the response of its status, keeping what is there."""
    response = responses.get(status)
    if response is None or "examples" not in response.get("content", {}).get(
        "application/json", {}
    ):
        # Only FastAPI's own (the 422 it adds by itself): ours replaces it.
        responses[status] = copy.deepcopy(addition)
        return
    examples = response["content"]["application/json"]["examples"]
    new_examples = addition["content"]["application/json"]["examples"]
    for name, example in new_examples.items():
        examples[name if name not in examples else f"{name}{len(examples) + 1}"] = example
    if addition["description"] not in response["description"]:
        response["description"] += " Or: " + addition["description"]
    if "headers" in addition:
        response.setdefault("headers", {}).update(addition["headers"])


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _validation_example(schema: dict[str, Any], operation: dict[str, Any]) -> AppError:
    """A 422 this operation really answers: the body sent empty (every required field named),
    or else its first constrained parameter given a value past its limit."""
    errors: list[FieldError] = []
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        body_schema = _resolve(schema, body.get("schema", {}))
        required = body_schema.get("required", [])
        errors = [coded_error(["body", name], "required") for name in required]
        if not errors:
            errors = [coded_error(["body"], "wrong_type", expected="object")]
    for parameter in operation.get("parameters", []):
        if errors:
            break
        where = [parameter["in"], parameter["name"]]
        constraints = parameter.get("schema", {})
        if "maxLength" in constraints:
            errors = [coded_error(where, "too_long", max_length=constraints["maxLength"])]
        elif "maximum" in constraints:
            errors = [coded_error(where, "too_large", limit=constraints["maximum"])]
    if not errors:
        errors = [coded_error(["query", "limit"], "too_small", limit=1)]
    return UnprocessableContent(validation_detail(errors), errors=errors)


def _example_path(path: str, operation: dict[str, Any], *, found: bool) -> str:
    """The path with its parameters' examples, or made-up values where nothing is found."""
    values = {p["name"]: p.get("example") for p in operation.get("parameters", [])}

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return str((found and values.get(name)) or ("no-such-" + name.split("_")[0]))

    return re.sub(r"\{([^}]+)\}", value, path)


def problem_json(operation: dict[str, Any], path: str) -> None:
    """Every 4xx/5xx answers application/problem+json with the Problem schema."""
    for status, response in operation["responses"].items():
        if not status.startswith(("4", "5")):
            continue
        instance = _example_path(path, operation, found=status != "404")
        documented_content = response.get("content", {}).get("application/json", {})
        entry: dict[str, Any] = {"schema": PROBLEM_REF}
        if "examples" in documented_content:
            entry["examples"] = documented_content["examples"]
            for example in entry["examples"].values():
                if example["value"].get("instance") == EXAMPLE_INSTANCE:
                    example["value"]["instance"] = instance
        response["content"] = {PROBLEM_MEDIA_TYPE: entry}


def list_problem_types(schemas: dict[str, Any]) -> None:
    types = sorted({cls.type_uri() for cls in app_error_classes()})
    problem_type = schemas["Problem"]["properties"]["type"]
    problem_type["description"] += " One of: " + ", ".join(f"`{t}`" for t in types) + "."
