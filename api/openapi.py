"""The OpenAPI document: what FastAPI derives from the routes, completed from the code itself.

Error responses come from the error classes each route declares and those every operation of
a kind can meet (api.openapi_problems); response headers from the dependencies and middleware
that send them; operation ids are camelCase names of the endpoint functions, so generated
clients read well.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel

from api.errors import Problem
from api.incident.csl import CslItem
from api.openapi_problems import (
    document_common_problems,
    forbidden_names_the_scopes,
    list_problem_types,
    problem_json,
)
from api.pagination import page_name
from api.request_body import JSON_BODY_MODELS
from api.routing import ADMIN_PREFIX, build_routes_on_first_use

SEEDED_PETITION = "florida-minimum-arrest-age-12"

API_DESCRIPTION = """
The backend of the campaign for a **minimum arrest age of 12** in Florida, after the
September 2019 arrest of six-year-old Kaia Rolle at her Orlando school.

* **Incident facts** (`/v1/incident`, `/v1/facts`, `/v1/sources`, `/v1/timeline`,
  `/v1/discrepancies`): every fact carries verbatim quotes from its sources, with character
  offsets into each source text; where sources disagree, each version is shown.
* **Petition** (`/v1/petitions`): sign, confirm by email, withdraw; live counts and stats.

**Errors** are always [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457)
`application/problem+json` documents (see the `Problem` schema); switch on `type`, which is
stable. Each operation lists the errors it can answer, with an example of each. A 422 lists
**every** invalid field at once in `errors`, each with its `field` name, `location`, JSON
`pointer`, a stable `code` (`required`, `too_long`, `invalid_email`, `disposable_email`,
`unknown_postal_code`, ...: see `FieldError`) and a `message` to show next to the field, in
Spanish when the request sends `Accept-Language: es`. No text (path, query or body) may hold
NUL (U+0000) or an unpaired UTF-16 surrogate (422, code `unstorable_text`); a query parameter
an operation does not take is a 422 too (code `unknown_parameter`). When a dependency (the
database) is down or does not answer in time, the answer is `503` with `Retry-After`: retry
then.

**Caching**: public reads carry `ETag` and `Cache-Control`; send `If-None-Match` to get `304`.

**Lists** are paginated by cursor: pass the `next_cursor` of one page as `cursor` to get the
next (or follow `next`).

**Retries**: every `POST` takes an `Idempotency-Key` header (a fresh UUID per action). A retry
with the same key and body replays the first answer (`Idempotent-Replayed: true`) instead of
acting twice. A `429` or `503` carries `Retry-After` (seconds).

## CORS

A page on another origin may call the API from the browser only if its origin (scheme, host
and port, e.g. `https://campaign.example.org`) is listed in the server's `CORS_ORIGINS`
setting (comma-separated); ask the operators to add yours. Preflights allow `GET`, `POST`,
`PATCH`, `DELETE` with the headers `Content-Type`, `Idempotency-Key`, `Authorization` and
`If-None-Match`, and are cached for 10 minutes. Scripts can read the response headers `ETag`,
`Retry-After`, `RateLimit`, `RateLimit-Policy`, `Location` and `Idempotent-Replayed`.

## How to build a frontend

1. Read the petition: `GET /v1/petitions/florida-minimum-arrest-age-12` (`getPetition`), and
   show `verified_count` of `goal`. For a live count open an `EventSource` on
   `/v1/petitions/{slug}/events`, or poll `getPetitionCount` every 10 seconds or more.
2. Sign: `POST /v1/petitions/{slug}/signatures` (`signPetition`) with the `SignatureCreate`
   body and a fresh `Idempotency-Key` per attempt, kept for its retries. Send
   `Accept-Language` in the page's language. A `202` means "check your email": the signature
   counts once the emailed link is followed (the link opens this service's `/confirm` page).
3. On `422`, show each `errors[].message` next to the input named by `errors[].field` (all
   fields come at once). On `429`/`503`, wait `Retry-After` seconds; on `409` (same key still
   in progress), retry the same request with the same key after `Retry-After`.
4. Show the facts behind the petition from `/v1/facts` and `/v1/sources`; quote them
   verbatim with their sources.

Types for TypeScript: `npx openapi-typescript <base>/openapi.json -o api.ts
--default-non-nullable false` (so request fields with defaults stay optional; answers mark
every field always present as required). Python models: `datamodel-codegen --input
openapi.json --input-file-type openapi --output-model-type pydantic_v2.BaseModel`.
"""

TAGS = [
    {"name": "incident", "description": "The incident, summarised, with links to its parts."},
    {"name": "facts", "description": "Facts, each backed by verbatim quotes from its sources."},
    {"name": "sources", "description": "The source documents the facts are drawn from."},
    {"name": "petitions", "description": "The petition, its counts and its stats."},
    {"name": "signatures", "description": "Signing, confirming and withdrawing a signature."},
    {"name": "health", "description": "Liveness and readiness for load balancers."},
    {
        "name": "admin",
        "description": "Campaign staff: petitions, the fact base, moderation, exports and the "
        "audit log. Every operation needs an API key (`Authorization: Bearer adv_...`, made "
        "with `advocacy create-api-key`) holding the scopes named in its description: "
        "401 without a valid key, 403 without the scope.",
    },
]

RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": "A strong validator of this representation; send it back in "
        "`If-None-Match` to get `304 Not Modified` while it has not changed.",
        "schema": {"type": "string", "examples": ['"9b2cf5a1e0d34c7f8a6b1d2e3f4a5b6c"']},
    },
    "Cache-Control": {
        "description": "How long this answer may be reused.",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": "The limit nearest to running out (IETF draft "
        "`httpapi-ratelimit-headers`): its policy name, the requests `r` left, and the "
        "seconds `t` until it resets.",
        "schema": {"type": "string", "examples": ['"burst";r=4;t=60']},
    },
    "RateLimit-Policy": {
        "description": "Every limit applied to this operation: name, quota `q`, window `w` "
        "in seconds.",
        "schema": {"type": "string", "examples": ['"burst";q=5;w=60, "sustained";q=20;w=3600']},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0, "examples": [30]},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this answer is the stored answer to an earlier request "
        "with the same `Idempotency-Key`; absent otherwise.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Location": {
        "description": "The path of the resource just created.",
        "schema": {"type": "string"},
    },
    "Allow": {"description": "The methods this path takes.", "schema": {"type": "string"}},
    "WWW-Authenticate": {
        "description": "The `Bearer` challenge (RFC 6750), with `error` when a key was sent.",
        "schema": {"type": "string"},
    },
}

# Endpoint functions whose names would make poor operation ids.
OPERATION_IDS = {
    "read_count": "getPetitionCount",
    "read_stats": "getPetitionStats",
    "recent_signatures": "listRecentSignatures",
    "sign": "signPetition",
    "confirm": "confirmSignature",
    "withdraw": "withdrawSignature",
    "request_access": "requestSignatureAccess",
    "my_signatures": "listMySignatures",
    "withdraw_mine": "withdrawMySignature",
    "petition_events": "streamPetitionCount",
    "read_timeline": "getTimeline",
    "healthz": "getLiveness",
    "readyz": "getReadiness",
}


def operation_id(route: APIRoute | RouteContext) -> str:
    """`read_petition` -> `getPetition`; admin operations get an `admin` prefix, so staff and
    public operations of one name stay apart (`listPetitions`, `adminListPetitions`)."""
    function_name = route.name or ""
    name = OPERATION_IDS.get(function_name, function_name)
    if "_" in name:
        verb, _, rest = name.partition("_")
        verb = {"read": "get"}.get(verb, verb)
        name = verb + "".join(part.capitalize() for part in rest.split("_"))
    if (route.path_format or "").startswith(ADMIN_PREFIX + "/"):
        name = "admin" + name[0].upper() + name[1:]
    return name


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        build_routes_on_first_use(app)  # the document lists every route
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
            separate_input_output_schemas=app.separate_input_output_schemas,
        )
        # Each route as the app serves it, with the dependencies of the routers it is in.
        routes = {
            operation_id(context): context
            for context in iter_route_contexts(app.routes)
            if isinstance(context.original_route, APIRoute)
        }
        complete(schema, routes)
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]


def complete(schema: dict[str, Any], routes: dict[str, RouteContext]) -> None:
    components = schema.setdefault("components", {})
    components["headers"] = RESPONSE_HEADERS
    # Read by api.request_body.json_body, not as body parameters: named in openapi_extra.
    _add_models(components.setdefault("schemas", {}), Problem, *JSON_BODY_MODELS)
    for path, method, operation in _operations(schema):
        route = routes.get(operation.get("operationId", ""))
        _prefill_parameters(operation)
        _document_success_headers(method, operation, route)
        document_common_problems(schema, path, method, operation)
        forbidden_names_the_scopes(operation)
        problem_json(operation, path)
        operation["responses"] = dict(sorted(operation["responses"].items()))
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    list_problem_types(schemas)
    _name_pages(schema)
    _add_models(schemas, CslItem)  # named only in a second media type


def _add_models(schemas: dict[str, Any], *models: type[BaseModel]) -> None:
    """Schemas only named in hand-written responses (e.g. a second media type)."""
    for model in models:
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(model_schema.pop("$defs", {}))
        schemas[model.__name__] = model_schema


def _name_pages(schema: dict[str, Any]) -> None:
    """`Page_FactPublic_` (the validation library's name for `Page[FactPublic]`) -> `FactPage`."""
    schemas = schema["components"]["schemas"]
    renamed = {
        old: page_name(match.group(1))
        for old in list(schemas)
        if (match := re.fullmatch(r"Page_(\w+)_", old))
    }
    for old, new in renamed.items():
        schemas[new] = schemas.pop(old)
    prefix = "#/components/schemas/"
    refs = {prefix + old: prefix + new for old, new in renamed.items()}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("$ref") in refs:
                node["$ref"] = refs[node["$ref"]]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield path, method, operation


def _prefill_parameters(operation: dict[str, Any]) -> None:
    """ "Try it out" fills a parameter from its `example`; FastAPI puts examples in the schema."""
    for parameter in operation.get("parameters", []):
        examples = parameter.get("schema", {}).get("examples")
        if examples and "example" not in parameter:
            parameter["example"] = examples[0]


def _dependency_calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _dependency_calls(dependency)


def _document_success_headers(
    method: str, operation: dict[str, Any], route: RouteContext | None
) -> None:
    headers: dict[str, Any] = {}
    # The endpoint itself may carry them too, when it does the work of a dependency inline.
    calls = [route.dependant.call, *_dependency_calls(route.dependant)] if route else []
    cache_control = next((c.cache_control for c in calls if hasattr(c, "cache_control")), None)
    if cache_control is not None:
        headers["Cache-Control"] = {
            **RESPONSE_HEADERS["Cache-Control"],
            "schema": {"type": "string", "const": cache_control},
        }
    if any(hasattr(call, "rate_limited_action") for call in calls):
        headers["RateLimit"] = {"$ref": "#/components/headers/RateLimit"}
        headers["RateLimit-Policy"] = {"$ref": "#/components/headers/RateLimit-Policy"}
    if method == "post":
        headers["Idempotent-Replayed"] = {"$ref": "#/components/headers/Idempotent-Replayed"}
    for status, response in operation["responses"].items():
        if not status.startswith("2"):
            continue
        extra = dict(headers)
        content = response.get("content", {})
        if method == "get" and status == "200" and "text/event-stream" not in content:
            extra["ETag"] = {"$ref": "#/components/headers/ETag"}
        if status == "201":
            extra["Location"] = {"$ref": "#/components/headers/Location"}
        if extra:
            response.setdefault("headers", {}).update(extra)
    success = operation["responses"].get("200", {})
    if method == "get" and success and "text/event-stream" not in success.get("content", {}):
        operation["responses"]["304"] = {
            "description": "Not Modified: the `If-None-Match` sent names the current "
            "representation; keep using yours.",
            "headers": {"ETag": {"$ref": "#/components/headers/ETag"}},
        }
