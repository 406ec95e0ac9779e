"""Redis unreachable (a closed port; the shared Redis is never touched): signing and access
requests keep working on this process's own counters (`local`, the default) or answer 503
with Retry-After (`closed`); never a 500. One log line per incident."""

from __future__ import annotations

import logging
import socket
import time
import uuid

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.abuse.ratelimit import RedisStore, ResilientStore
from api.main import create_app
from tests.petitions.helpers import SIGN_URL, signer
from tests.test_errors import assert_problem

pytestmark = pytest.mark.usefixtures("fresh_rate_limit_window")


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"  # the socket is closed: nothing listens there


def unreachable_redis_app(settings, **overrides):
    update = {
        "rate_limit_enabled": True,
        "redis_url": closed_port_url(),
        "rate_limit_requests": "4/60",
        "secret_key": SecretStr(uuid.uuid4().hex),
        **overrides,
    }
    return create_app(settings.model_copy(update=update))


def sign(client, n):
    return [
        client.post(SIGN_URL, json=signer(email=f"r{uuid.uuid4().hex[:8]}@example.org"))
        for _ in range(n)
    ]


def test_redis_down_falls_back_to_local_limits(settings, clean_database, caplog):
    caplog.set_level(logging.WARNING, logger="api.abuse.ratelimit")
    with TestClient(unreachable_redis_app(settings)) as client:
        started = time.monotonic()
        codes = [r.status_code for r in sign(client, 5)]
        access = client.post("/v1/signatures/access", json={"email": "someone@example.org"})
        elapsed = time.monotonic() - started
        ready = client.get("/readyz")
    # Still limited, by this process: the fifth request passes the 4/60 ceiling.
    assert codes == [202, 202, 202, 202, 429]
    assert access.status_code == 202
    assert elapsed < 5  # a refused connection is not waited on per request
    assert ready.status_code == 200
    assert ready.json()["dependencies"]["redis"] == "down"
    down = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(down) == 1  # one line for the incident, not one per request
    assert down[0].exc_info is None  # and no traceback


def test_redis_down_can_fail_closed(settings, clean_database):
    app = unreachable_redis_app(settings, rate_limit_on_redis_error="closed")
    with TestClient(app) as client:
        signing = client.post(SIGN_URL, json=signer())
        access = client.post("/v1/signatures/access", json={"email": "someone@example.org"})
        ready = client.get("/readyz")
    for response in (signing, access):
        assert_problem(response, 503)
        assert int(response.headers["retry-after"]) >= 1
    assert_problem(ready, 503)


def test_the_store_recovers_when_redis_answers_again(caplog):
    """Down, then up: after the retry interval the next call goes to Redis again, and the
    recovery is logged once."""
    caplog.set_level(logging.WARNING, logger="api.abuse.ratelimit")
    store = ResilientStore(
        RedisStore(closed_port_url(), timeout_seconds=0.5), on_error="local", retry_seconds=0.2
    )
    key = [(f"test:{uuid.uuid4().hex}", 60)]
    assert store.hit(key, time.time())[0][0] == 1  # counted locally
    assert store.state == "down"
    assert store.hit(key, time.time())[0][0] == 2
    store.redis = RedisStore("redis://127.0.0.1:6379/0", timeout_seconds=0.5)  # the real one
    assert store.hit(key, time.time())[0][0] == 3  # still inside the retry interval: local
    time.sleep(0.3)
    assert store.hit(key, time.time())[0][0] == 1  # Redis's own count for this fresh key
    assert store.state == "ok"
    messages = [r.getMessage() for r in caplog.records]
    assert sum("Redis unreachable" in m for m in messages) == 1
    assert sum("Redis reachable again" in m for m in messages) == 1
