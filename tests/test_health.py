from __future__ import annotations

from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from tests.databases import unreachable_settings
from tests.test_errors import assert_problem


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_when_database_answers(client: TestClient) -> None:
    assert client.get("/readyz").json() == {"status": "ok", "dependencies": {"database": "up"}}


def test_readyz_is_503_problem_when_database_is_unreachable(tmp_path) -> None:
    with TestClient(create_app(unreachable_settings(tmp_path))) as client:
        response = client.get("/readyz")
    body = assert_problem(response, 503)
    assert response.headers["retry-after"] == "5"
    assert body["dependencies"] == {"database": "down"}
    assert "database" in body["detail"]


def test_readyz_names_redis_when_it_is_configured_and_down(tmp_path, database_url) -> None:
    settings = Settings(
        environment="test",
        database_url=database_url,
        secret_key="x",
        var_dir=tmp_path,
        redis_url="redis://127.0.0.1:1/0",  # nothing listens on 1
        rate_limit_on_redis_error="closed",
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    body = assert_problem(response, 503)
    assert body["dependencies"] == {"database": "up", "redis": "down"}
    # Falling back to per-process limits, the process still serves, and says Redis is down.
    local = settings.model_copy(update={"rate_limit_on_redis_error": "local"})
    with TestClient(create_app(local)) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["dependencies"] == {"database": "up", "redis": "down"}
