"""The lean routes (api.routing._lean_app) answer exactly as FastAPI's own request handler."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, request_response
from fastapi.testclient import TestClient

from api.routing import ApiRoute
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
