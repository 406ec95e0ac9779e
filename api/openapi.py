"""OpenAPI document post-processing: one error schema, problem+json everywhere."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import PROBLEM_MEDIA_TYPE

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

API_DESCRIPTION = """
The backend of the campaign for a **minimum arrest age of 12** in Florida, after the
September 2019 arrest of six-year-old Kaia Rolle at her Orlando school.

* **Incident facts** (`/v1/incident`, `/v1/facts`, `/v1/sources`, `/v1/timeline`,
  `/v1/discrepancies`): every fact carries verbatim quotes from its sources, with character
  offsets into each source text; where sources disagree, each version is shown.
* **Petition** (`/v1/petitions`): sign, confirm by email, withdraw; live counts and stats.

**Errors** are always [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457)
`application/problem+json` documents (see the `Problem` schema). A 422 lists each invalid
field in `errors`, with its `field` name, `location`, JSON `pointer` and a `message` that can be
shown next to the field. No text (path, query or body) may hold NUL (U+0000) or an unpaired
UTF-16 surrogate (422, code `unstorable_text`); a query parameter an operation does not take is
a 422 too (code `unknown_parameter`). When a dependency (the database) is down or does not
answer in time, the answer is `503` with `Retry-After`: retry then.

**Caching**: public reads carry `ETag` and `Cache-Control`; send `If-None-Match` to get `304`.

**Lists** are paginated by cursor: pass the `next` value of one page as `cursor` to get the next.
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


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        _problem_json_everywhere(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Make a retry safe: a repeat with the same key and body within 24 hours "
    "replays the first answer (with `Idempotent-Replayed: true`) instead of acting twice. The "
    "same key with a different body is a 422; while the first is still being processed, a "
    "409 with `Retry-After`. Use a fresh random value (e.g. a UUID) per action.",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
    "example": "6f1c2c4e-4d0b-4a53-9c1e-0d6d2f3b7a10",
}


def _problem_json_everywhere(schema: dict[str, Any]) -> None:
    """Every 4xx/5xx answers application/problem+json with the Problem schema."""
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            if method == "post":
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
                responses.setdefault(
                    "409", {"description": "A request with this Idempotency-Key is in progress."}
                )
                responses.setdefault("422", {"description": "Invalid Idempotency-Key or body."})
            responses.setdefault(
                "500", {"description": "Internal Server Error (problem+json, logged server-side)"}
            )
            if "requestBody" in operation:
                responses.setdefault("400", {"description": "The body is not valid JSON."})
                responses.setdefault(
                    "413", {"description": "The body is larger than MAX_BODY_BYTES."}
                )
            for status, response in responses.items():
                if not (status.startswith(("4", "5")) or status == "default"):
                    continue
                content = response.get("content", {})
                example = content.get("application/json", {}).get("example")
                entry: dict[str, Any] = {"schema": PROBLEM_REF}
                if example is not None:
                    entry["example"] = example
                response["content"] = {PROBLEM_MEDIA_TYPE: entry}
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
