"""/metrics: protected, labelled by route template, and exact across worker processes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.main import create_app
from tests.ops.servers import METRICS_TOKEN, process_env, sample
from tests.petitions.helpers import SIGN_URL, SLUG, signer
from tests.servers import running_server

AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def test_metrics_are_a_404_unless_a_token_is_set(client):
    assert client.get("/metrics").status_code == 404
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_metrics_need_the_bearer_token(settings, clean_database):
    app = create_app(settings.model_copy(update={"metrics_token": SecretStr(METRICS_TOKEN)}))
    with TestClient(app) as client:
        refused = client.get("/metrics", headers={"Authorization": "Bearer wrong-token-000000"})
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert client.get("/metrics").status_code == 401
        before = sample(client.get("/metrics", headers=AUTH).text, "advocacy_signatures_total")
        assert client.post(SIGN_URL, json=signer(email="m1@example.org")).status_code == 202
        client.get(f"/v1/petitions/{SLUG}/count")
        client.get("/v1/petitions/no-such-petition/count")
        scraped = client.get("/metrics", headers=AUTH)
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    assert sample(text, "advocacy_signatures_total", event="accepted") >= 1
    assert sample(text, "advocacy_signatures_total") == before + 1
    assert sample(text, "advocacy_outbox_pending") == 1  # the confirmation mail, not sent yet
    assert sample(text, "advocacy_outbox_oldest_unsent_age_seconds") >= 0
    assert sample(
        text, "advocacy_http_requests_total", route="/v1/petitions/{slug}/count", status="404"
    )
    # Labels are templates: no slug, no address, nothing a client typed.
    assert SLUG not in text and "no-such-petition" not in text and "example.org" not in text


def test_two_workers_count_exactly(settings, clean_database, tmp_path):
    """A real `advocacy serve --workers 2`: known traffic, then one scrape sums both processes."""
    env = process_env(settings.database_url, tmp_path)
    signatures, health_checks = 24, 40
    with running_server(env, tmp_path / "server.log", workers=2) as server:

        def sign(i: int) -> int:
            body = signer(email=f"worker-metrics-{i}@example.org")
            return httpx.post(f"{server.url}{SIGN_URL}", json=body, timeout=30).status_code

        def health(_: int) -> int:
            return httpx.get(f"{server.url}/healthz", timeout=10).status_code

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(sign, range(signatures))) == [202] * signatures
            assert list(pool.map(health, range(health_checks))) == [200] * health_checks
        text = server.metrics()
        pids = {p.name.rsplit("_", 1)[-1] for p in (tmp_path / "metrics").rglob("counter_*.db")}
        assert server.terminate() == 0

    # Both workers served requests, so the scrape had to sum (a third pid: uvicorn replaced a
    # worker that missed its health check on a loaded machine; its counts are summed too).
    assert len(pids) >= 2, pids
    assert sample(text, "advocacy_http_requests_total", route="/healthz", status="200") == 40
    assert (
        sample(
            text,
            "advocacy_http_requests_total",
            route="/v1/petitions/{slug}/signatures",
            method="POST",
            status="202",
        )
        == signatures
    )
    assert sample(text, "advocacy_signatures_total", event="accepted") == signatures
    assert sample(text, "advocacy_group_commit_batch_size_sum") == signatures
    batches = sample(text, "advocacy_group_commit_batch_size_count")
    for phase in ("turn", "work", "commit"):  # each batch timed in each phase
        assert sample(text, "advocacy_group_commit_seconds_count", phase=phase) == batches
        assert sample(text, "advocacy_group_commit_seconds_sum", phase=phase) > 0
    assert sample(text, "advocacy_outbox_pending") == signatures
    assert sample(text, "advocacy_http_request_duration_seconds_count", route="/healthz") == 40
    assert "advocacy_db_connections_in_use" in text
    assert "advocacy_sse_streams_open" in text


def test_rate_limit_refusals_are_counted(fresh_rate_limit_window, settings, clean_database):
    limited = settings.model_copy(
        update={
            "metrics_token": SecretStr(METRICS_TOKEN),
            "rate_limit_enabled": True,
            # Signing refuses past the flood ceiling (past the allowance it holds instead).
            "rate_limit_requests": "1/60",
        }
    )
    with TestClient(create_app(limited)) as client:
        before = sample(
            client.get("/metrics", headers=AUTH).text,
            "advocacy_rate_limit_refusals_total",
            action="sign",
        )
        assert client.post(SIGN_URL, json=signer(email="r1@example.org")).status_code == 202
        assert client.post(SIGN_URL, json=signer(email="r2@example.org")).status_code == 429
        text = client.get("/metrics", headers=AUTH).text
    assert sample(text, "advocacy_rate_limit_refusals_total", action="sign") == before + 1


def test_servers_on_one_var_dir_keep_their_own_counts(settings, clean_database, tmp_path):
    """A second `advocacy serve` started on the same VAR_DIR (a blue-green switch, the bench's
    cold starts beside a loaded server) neither deletes the first one's values nor adds to them;
    a later start removes the values of the one that has exited."""
    env = process_env(settings.database_url, tmp_path)

    def sign(server, prefix: str, count: int) -> None:
        for i in range(count):
            body = signer(email=f"{prefix}-{i}@example.org")
            assert httpx.post(f"{server.url}{SIGN_URL}", json=body, timeout=30).status_code == 202

    def accepted(server) -> float:
        return sample(server.metrics(), "advocacy_signatures_total", event="accepted")

    with running_server(env, tmp_path / "first.log", workers=2) as first:
        sign(first, "first", 6)
        with running_server(env, tmp_path / "second.log") as second:
            sign(second, "second", 4)
            assert accepted(first) == 6
            assert accepted(second) == 4
            both_dirs = {p.parent for p in (tmp_path / "metrics").rglob("counter_*.db")}
            assert len(both_dirs) == 2  # one directory each
            second.terminate()  # one worker: uvicorn ends by raising the SIGTERM again
        with running_server(env, tmp_path / "third.log") as third:
            assert accepted(third) == 0
            assert accepted(first) == 6
            held = {p.parent for p in (tmp_path / "metrics").rglob("*.db")}
        assert first.terminate() == 0
    assert len(both_dirs - held) == 1  # the exited one's directory went at the third start
