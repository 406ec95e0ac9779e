"""The OpenAPI document is complete enough to build a frontend from, and the API keeps to it."""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import schemathesis
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from hypothesis import settings
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)
from starlette.staticfiles import StaticFiles

from api.config import Settings
from api.routing import add_routes

PROBLEM = "application/problem+json"


def test_docs_pages_are_served_with_local_assets(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 200
        # Regression: the framework's defaults load scripts from a CDN, which breaks offline
        # and sends readers' addresses to a third party.
        assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
        assert assets
        for asset in assets:
            assert asset.startswith("/"), (page, asset)
            assert client.get(asset).status_code == 200, asset
    assert client.get("/openapi.json").status_code == 200


def test_every_operation_is_documented(app: FastAPI) -> None:
    spec = app.openapi()
    assert spec["components"]["schemas"]["Problem"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), where
            assert operation.get("description"), where
            assert operation.get("tags"), where
            responses = operation["responses"]
            success = [code for code in responses if code.startswith("2")]
            assert success, where
            for code, response in responses.items():
                if code[0] in "45":
                    assert list(response["content"]) == [PROBLEM], (where, code)
                    assert response["content"][PROBLEM]["schema"] == {
                        "$ref": "#/components/schemas/Problem"
                    }, (where, code)
            if operation.get("parameters") or operation.get("requestBody"):
                assert "422" in responses, where


def test_routes_added_to_the_app_give_the_document_include_router_gives(
    app: FastAPI, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The busy routers' routes are put in the app's own list (api.routing.add_routes, for
    speed); the document must be the one FastAPI's include_router gives, line for line."""
    import api.main
    import api.web.router

    for module in (api.main, api.web.router):
        monkeypatch.setattr(module, "add_routes", lambda app, router: app.include_router(router))
    included = api.main.create_app(settings)
    assert json.dumps(app.openapi(), sort_keys=True) == json.dumps(
        included.openapi(), sort_keys=True
    )
    # Routes are matched in the order the document lists them.
    assert list(app.openapi()["paths"]) == list(included.openapi()["paths"])


@pytest.mark.parametrize("kind", ["lifespan", "mount", "included router"])
def test_a_router_with_its_own_lifespan_or_mounts_is_not_added_route_by_route(
    app: FastAPI, kind: str
) -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield

    router = APIRouter(lifespan=lifespan) if kind == "lifespan" else APIRouter()
    if kind == "mount":
        router.mount("/files", StaticFiles(directory="."), name="files")
    if kind == "included router":
        router.include_router(APIRouter())
    with pytest.raises(ValueError, match="plain API routes"):
        add_routes(app, router)


def test_a_documented_route_keeps_the_operation_id_the_app_would_give_it(app: FastAPI) -> None:
    # Included, a route takes the app's operation id (camelCase, api.openapi.operation_id);
    # added route by route, it keeps its router's: FastAPI's default would rename it.
    router = APIRouter(prefix="/v1")

    @router.get("/unnamed")
    async def unnamed() -> dict[str, str]:
        return {}

    with pytest.raises(ValueError, match="generate_unique_id_function"):
        add_routes(app, router)


# The live-count stream never completes, so the fuzzer would wait out a timeout on every
# example; its answers (the stream, and 404/422/429/503 before it starts) are tested in
# tests/web/test_events.py, tests/faults/test_stream_faults.py and the contract tests.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/v1/petitions/{slug}/events")

# Settings().max_body_bytes by default (64 KiB), less a margin for serialisation differences.
BODY_CAP_MARGIN = 60 * 1024


def _body_size(body: object) -> int:
    if not isinstance(body, dict | list | str):  # no body (schemathesis uses a sentinel)
        return 0
    return len(json.dumps(body, default=str).encode())


SEMANTIC_RULES = {"POST /v1/petitions/{slug}/signatures", "POST /v1/signatures/access"}


# Examples per operation: hypothesis's 100 by default. `make test` runs the suite on SQLite,
# then on PostgreSQL with fewer (FUZZ_EXAMPLES, in the Makefile): the API's rules are the same
# on both, and the full fuzz on one backend was a quarter of the CI run's time.
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES)
def test_api_conforms_to_its_schema(case) -> None:
    # No 5xx, and every response (status, content type, body) is the documented one.
    excluded = []
    if case.query and "cursor" in case.query:
        # A cursor is an opaque token the server issued; a made-up string that fits the schema
        # is rightly refused with a 422 naming `cursor` (tested in the incident tests).
        excluded.append(positive_data_acceptance)
    if case.operation.label in SEMANTIC_RULES:
        # Some rules cannot be written in JSON Schema: a US ZIP must be one in use (a
        # dataset), the postal code's format depends on `country`, names may not hold URLs, an
        # email's domain must be able to receive mail (not .test, not disposable). Each is
        # tested one by one in tests/petitions/test_validation.py and tests/abuse.
        excluded.append(positive_data_acceptance)
    if _body_size(case.body) > BODY_CAP_MARGIN:
        # Past the body cap the documented answer is 413 whatever the fields hold (JSON escapes
        # make a string of N characters up to 12N bytes). The status, content type and
        # problem document are still validated.
        excluded += [positive_data_acceptance, negative_data_rejection]
    if case.headers:
        # Generated requests would share keys across unrelated bodies, which is rightly refused
        # (422); the Idempotency-Key contract has its own tests (tests/abuse).
        case.headers.pop("Idempotency-Key", None)
    case.call_and_validate(excluded_checks=excluded)


def test_a_body_past_the_cap_is_a_documented_413(client: TestClient, app: FastAPI) -> None:
    # Regression (found by the fuzz test): 12,000 characters that each escape to 6 bytes of
    # JSON exceed the 64 KiB cap; the 413 must be documented where a body is accepted.
    for item in app.openapi()["paths"].values():
        for operation in item.values():
            if "requestBody" in operation:
                assert "413" in operation["responses"], operation["summary"]
    body = json.dumps({"text": "\u0080" * 12_000})
    response = client.post(
        "/v1/admin/sources", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
