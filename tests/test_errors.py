"""Every error, from our routes and from the framework, is RFC 9457 problem+json."""

from __future__ import annotations

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
    for response in (client.get("/healthz"), client.get("/nope")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "content-security-policy" in response.headers
