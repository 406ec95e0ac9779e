"""Rate limits on signing: in process, and shared through the real Redis."""

from __future__ import annotations

import uuid

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.abuse.client import client_ip
from api.main import create_app
from tests.petitions.helpers import SIGN_URL, signer
from tests.test_errors import assert_problem

REDIS_URL = "redis://127.0.0.1:6379/0"


def limited_app(settings, **overrides):
    # A fresh secret per test gives fresh limiter keys, also in the shared Redis.
    update = {
        "rate_limit_enabled": True,
        "rate_limit_burst": "3/60",
        "rate_limit_sustained": "5/3600",
        "secret_key": SecretStr(uuid.uuid4().hex),
        **overrides,
    }
    return create_app(settings.model_copy(update=update))


def sign_n(client, n, **headers):
    return [
        client.post(
            SIGN_URL, json=signer(email=f"rl{uuid.uuid4().hex[:8]}@example.org"), headers=headers
        )
        for _ in range(n)
    ]


@pytest.fixture(params=["memory", "redis"])
def store_overrides(request):
    if request.param == "memory":
        return {"redis_url": None}
    redis.Redis.from_url(REDIS_URL).ping()  # the real server must be up: fail, do not skip
    return {"redis_url": REDIS_URL}


def test_burst_limit_gives_429_with_headers(settings, clean_database, store_overrides):
    with TestClient(limited_app(settings, **store_overrides)) as client:
        responses = sign_n(client, 4)
    assert [r.status_code for r in responses[:3]] == [202, 202, 202]
    assert "q=3;w=60" in responses[0].headers["ratelimit-policy"]
    assert responses[0].headers["ratelimit"].startswith('"burst";r=2;')
    refused = responses[3]
    body = assert_problem(refused, 429)
    assert "retry after" in body["detail"].lower()
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit"].startswith('"burst";r=0;')


def test_limits_can_be_turned_off(settings, clean_database):
    with TestClient(limited_app(settings, rate_limit_enabled=False)) as client:
        assert {r.status_code for r in sign_n(client, 6)} == {202}


def test_two_instances_share_limits_through_redis(settings, clean_database):
    secret = SecretStr(uuid.uuid4().hex)
    first = limited_app(settings, redis_url=REDIS_URL, secret_key=secret)
    second = limited_app(settings, redis_url=REDIS_URL, secret_key=secret)
    with TestClient(first) as one, TestClient(second) as two:
        codes = [r.status_code for r in sign_n(one, 2) + sign_n(two, 2)]
    assert codes == [202, 202, 202, 429]


def test_forwarded_for_is_believed_only_from_trusted_proxies(settings, clean_database):
    app = limited_app(settings, trusted_proxies=["10.0.0.0/8"])
    with TestClient(app, client=("198.51.100.7", 5000)) as direct:
        # Not a trusted proxy: a forged X-Forwarded-For does not buy fresh limits.
        forged = [
            sign_n(direct, 1, **{"X-Forwarded-For": f"203.0.113.{i}"})[0].status_code
            for i in range(4)
        ]
    assert forged == [202, 202, 202, 429]
    with TestClient(app, client=("10.0.0.2", 5000)) as proxy:
        # Behind the trusted proxy, each forwarded client has its own limits.
        proxied = [
            sign_n(proxy, 1, **{"X-Forwarded-For": f"203.0.113.{i}"})[0].status_code
            for i in range(4)
        ]
    assert proxied == [202, 202, 202, 202]


def test_invalid_trusted_proxies_fail_at_start_up(settings):
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        settings.model_validate({**settings.model_dump(), "trusted_proxies": ["testclient"]})


class FakeRequest:
    def __init__(self, peer, forwarded=None):
        self.client = type("Peer", (), {"host": peer})()
        self.headers = {"x-forwarded-for": forwarded} if forwarded else {}


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("198.51.100.7", None, "198.51.100.7"),
        ("198.51.100.7", "203.0.113.9", "198.51.100.7"),  # untrusted peer: header ignored
        ("10.0.0.2", "203.0.113.9", "203.0.113.9"),  # trusted proxy: its client
        ("10.0.0.2", "1.2.3.4, 203.0.113.9, 10.0.0.3", "203.0.113.9"),  # right-most untrusted
        ("10.0.0.2", "not-an-ip", "10.0.0.2"),  # malformed chain: trust nothing
    ],
)
def test_client_ip(peer, forwarded, expected):
    assert client_ip(FakeRequest(peer, forwarded), ["10.0.0.0/8"]) == expected
