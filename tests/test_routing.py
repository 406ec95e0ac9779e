"""The lean routes (api.routing._lean_app) answer exactly as FastAPI's own request handler."""

from __future__ import annotations

import re
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, FastAPI, Path, Response
from fastapi.dependencies.utils import request_params_to_args
from fastapi.routing import APIRoute, request_response
from fastapi.testclient import TestClient

from api.routing import ApiRoute, _path_parameter_reader
from api.security import new_token
from tests.conftest import reset_database
from tests.petitions.helpers import SIGN_URL, signer

HOT_ROUTES = {
    ("POST", "/v1/petitions/{slug}/signatures"),
    ("POST", "/v1/signatures/confirm"),
    ("GET", "/healthz"),
}


def _lean_routes(app: FastAPI) -> list[APIRoute]:
    return [
        route
        for route in app.routes
        if isinstance(route, ApiRoute)
        and getattr(route.app, "__qualname__", "").startswith("_lean_app")
    ]


def _answers(client: TestClient) -> list[tuple[int, str | None, Any]]:
    requests: list[tuple[str, str, Any]] = [
        ("GET", "/healthz", None),
        ("POST", SIGN_URL, signer()),
        ("POST", SIGN_URL, signer()),  # a repeat: the same 202
        ("POST", SIGN_URL, signer(email="not-an-address")),
        ("POST", SIGN_URL, {"first_name": "Ana"}),
        ("POST", "/v1/petitions/no-such-petition/signatures", signer(email="b@example.org")),
        ("POST", f"/v1/petitions/{'x' * 81}/signatures", signer(email="c@example.org")),
        ("POST", "/v1/signatures/confirm", {"token": "not-a-token"}),
        ("POST", "/v1/signatures/confirm", {"token": new_token()[0]}),  # well formed, unknown
        ("POST", "/v1/signatures/confirm", {}),
        ("POST", "/v1/signatures/confirm", "[1"),
    ]
    answers = []
    for method, path, body in requests:
        if isinstance(body, str):
            response = client.request(
                method, path, content=body, headers={"Content-Type": "application/json"}
            )
        else:
            response = client.request(method, path, json=body)
        content = response.json()
        if isinstance(content, dict):
            content.pop("instance", None)  # names the request, which differs
        answers.append((response.status_code, response.headers.get("content-type"), content))
    return answers


def test_the_hot_routes_take_the_lean_path(app: FastAPI) -> None:
    taken = {(method, route.path) for route in _lean_routes(app) for method in route.methods or ()}
    assert taken == HOT_ROUTES


def test_lean_routes_answer_as_fastapis_handler_does(
    app: FastAPI, clean_database: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(app) as client:
        lean = _answers(client)
    statuses = [status for status, _, _ in lean]
    assert statuses == [200, 202, 202, 422, 422, 404, 422, 422, 404, 422, 422], lean
    # The same requests, on a fresh database, through FastAPI's generic handler.
    reset_database(clean_database)
    for route in _lean_routes(app):
        monkeypatch.setattr(route, "app", request_response(route.get_route_handler()))
    with TestClient(app) as client:
        generic = _answers(client)
    assert lean == generic


def test_path_parameters_are_read_as_fastapi_reads_them() -> None:
    """The lean path's reader of path parameters gives FastAPI's own values and errors, for
    plain parameters (read by the field's validator) and for those it leaves to FastAPI."""
    app = FastAPI()
    router = APIRouter(route_class=ApiRoute)

    @router.get("/a/{slug}/{number}")
    async def plain(
        slug: Annotated[str, Path(max_length=5)], number: Annotated[int, Path(ge=1)]
    ) -> Response:
        return Response()

    @router.get("/b/{given}")
    async def aliased(given_name: Annotated[str, Path(validation_alias="given")]) -> Response:
        return Response()

    app.include_router(router)
    cases: list[dict[str, Any]] = [
        {"slug": "abc", "number": "7"},
        {"slug": "abcdefgh", "number": "7"},  # too long
        {"slug": "abc", "number": "0"},  # below its bound
        {"slug": "abcdefgh", "number": "x"},  # two errors, in order
        {"slug": "\u00e9t\u00e9", "number": " 12 "},
        {"number": "7"},  # not from a route that matched: FastAPI's answer, whatever it is
        {"given": "Ana"},
        {},
    ]
    routes = [route for route in router.routes if isinstance(route, APIRoute)]
    assert len(routes) == 2
    for route in routes:
        fields = route.dependant.path_params
        read = _path_parameter_reader(fields)
        for case in cases:
            assert read(case) == request_params_to_args(fields, case), (route.path, case)


def test_routes_refuse_only_paths_their_pattern_would_refuse(app: FastAPI) -> None:
    """ApiRoute.matches' cheap refusal never changes FastAPI's answer: every route of the
    app, asked about every route's path (parameters filled in several ways, with and without
    a trailing slash) and a few others, answers as APIRoute.matches does."""
    routes = [route for route in app.routes if isinstance(route, ApiRoute)]
    assert any(route.matched_on_own_path for route in routes)
    paths = {"/", "", "/v1", "/v1/", "/v1/petitions/", "/v1/petitions//signatures"}
    for route in app.routes:
        template = getattr(route, "path_format", None)
        if template is None:
            continue
        for filler in ("x", "1", "florida-minimum-arrest-age-12", "a b", "signatures"):
            filled = re.sub(r"\{[^}]+\}", filler, template)
            paths |= {filled, filled + "/", filled + "/count", "/v1" + filled}
    assert len(paths) > 100
    for route in routes:
        for path in sorted(paths):
            for method in ("GET", "POST"):
                scope = {"type": "http", "path": path, "root_path": "", "method": method}
                assert route.matches(dict(scope)) == APIRoute.matches(route, dict(scope)), (
                    route.path,
                    path,
                    method,
                )
