"""Every error, from our routes and from the framework, is RFC 9457 problem+json."""

from __future__ import annotations

import json

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["type"].startswith("urn:advocacy:problem:")
    return body


def test_unknown_path_is_a_404_problem(client: TestClient) -> None:
    body = assert_problem(client.get("/v1/no-such-thing"), 404)
    assert body["instance"] == "/v1/no-such-thing"


def test_wrong_method_is_a_405_problem(client: TestClient) -> None:
    response = client.delete("/v1/facts")
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET"


def test_invalid_query_is_a_422_naming_the_field(client: TestClient) -> None:
    body = assert_problem(client.get("/v1/facts", params={"limit": 0}), 422)
    assert body["errors"][0]["field"] == "limit"
    assert body["errors"][0]["location"] == ["query", "limit"]
    assert body["errors"][0]["message"]


def test_unhandled_error_is_a_500_problem_without_internals(
    settings: Settings, clean_database
) -> None:
    app = create_app(settings)
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        body = assert_problem(client.get("/boom"), 500)
    assert "secret internal detail" not in body["detail"]


def test_oversized_body_is_a_413_problem(client: TestClient) -> None:
    response = client.post(
        "/v1/facts", content=b"x" * (70 * 1024), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)


def test_security_headers_on_every_response(client: TestClient) -> None:
    # The edge's own answers too (413, 422 for unstorable text): before the edge was one
    # layer, those were sent from outside the security-headers layer and carried none.
    oversized = client.post(
        "/v1/facts", content=b"x" * (70 * 1024), headers={"content-type": "application/json"}
    )
    unstorable = client.get("/v1/facts/no%00nul")
    assert (oversized.status_code, unstorable.status_code) == (413, 422)
    for response in (client.get("/healthz"), client.get("/nope"), oversized, unstorable):
        assert len(response.headers["x-request-id"]) >= 8
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "content-security-policy" in response.headers


SIGNER = {
    "first_name": "Ana",
    "last_name": "Lopez",
    "email": "ana@example.org",
    "postal_code": "32801",
    "country": "US",
}


@pytest.mark.parametrize("bad", ["\ud800", "no\x00nul", "\udfff tail"])
def test_a_string_no_database_can_store_is_a_422_naming_its_field(
    client: TestClient, bad: str
) -> None:
    # Regression: a lone surrogate in `comment` was a 500 (UnicodeEncodeError at the driver).
    body = json.dumps({**SIGNER, "comment": bad})  # ensure_ascii: "\ud800" travels escaped
    response = client.post(
        "/v1/petitions/florida-minimum-arrest-age-12/signatures",
        content=body,
        headers={"content-type": "application/json"},
    )
    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == ["comment"]
    assert problem["errors"][0]["location"] == ["body", "comment"]


def test_nul_in_a_query_parameter_or_path_is_a_422(client: TestClient) -> None:
    problem = assert_problem(client.get("/v1/facts?q=a%00b"), 422)
    assert problem["errors"][0]["field"] == "q"
    assert_problem(client.get("/v1/petitions/a%00b"), 422)


def test_nested_json_fields_are_named_by_their_path(client: TestClient) -> None:
    body = '{"first_name": "Ana", "tags": [{"x": "\\ud800"}]}'
    response = client.post(
        "/v1/petitions/florida-minimum-arrest-age-12/signatures",
        content=body,
        headers={"content-type": "application/json"},
    )
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == "tags.0.x"


def test_a_chunked_body_over_the_cap_is_a_413_problem(client: TestClient) -> None:
    # Regression: without Content-Length the cap was noticed while the route parsed the body,
    # and the framework answered 400 "There was an error parsing the body".
    def chunks():
        yield b'{"comment": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    for path in ("/v1/petitions/florida-minimum-arrest-age-12/signatures", "/v1/admin/sources"):
        response = client.post(path, content=chunks(), headers={"content-type": "application/json"})
        problem = assert_problem(response, 413)
        assert problem["type"] == "urn:advocacy:problem:payload-too-large"
