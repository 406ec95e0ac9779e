"""Rate limits on signing: in process, and shared through the real Redis."""

from __future__ import annotations

import uuid

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import col, select

from api.abuse.client import client_ip
from api.config import Settings
from api.main import create_app
from api.petitions.models import Signature
from tests.conftest import link_in
from tests.petitions.helpers import SIGN_URL, count, signer
from tests.test_errors import assert_problem

pytestmark = pytest.mark.usefixtures("fresh_rate_limit_window")

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


def default_limits_app(settings, **overrides):
    """Rate limiting on, with every limit at its default (only the secret is fresh)."""
    defaults = Settings()
    update = {
        name: getattr(defaults, name)
        for name in (
            "rate_limit_burst",
            "rate_limit_sustained",
            "rate_limit_requests",
            "rate_limit_on_redis_error",
        )
    }
    return create_app(
        settings.model_copy(
            update={
                **update,
                "rate_limit_enabled": True,
                "secret_key": SecretStr(uuid.uuid4().hex),
                **overrides,
            }
        )
    )


def sign_n(client, n, **headers):
    return [
        client.post(
            SIGN_URL, json=signer(email=f"rl{uuid.uuid4().hex[:8]}@example.org"), headers=headers
        )
        for _ in range(n)
    ]


def statuses(database) -> list[str]:
    with database.session() as session:
        return list(session.exec(select(Signature.status).order_by(col(Signature.id))).all())


def confirm_all(client, smtp_server, mail_worker) -> list[str]:
    """Confirm every mailed signature through its link; the confirmations' statuses."""
    mail_worker.drain()
    outcomes = []
    for message in smtp_server.messages:
        token = link_in(message, "/confirm")
        response = client.post("/v1/signatures/confirm", json={"token": token})
        assert response.status_code == 200, response.text
        outcomes.append(response.json()["status"])
    return outcomes


@pytest.fixture(params=["memory", "redis"])
def store_overrides(request):
    if request.param == "memory":
        return {"redis_url": None}
    redis.Redis.from_url(REDIS_URL).ping()  # the real server must be up: fail, do not skip
    return {"redis_url": REDIS_URL}


def test_seven_people_from_one_address_all_count_with_default_settings(
    settings, clean_database, store_overrides, smtp_server, mail_worker
):
    """A classroom: seven people sign from one address within a minute, with the default
    limits, and each counts once confirmed (with the old 5/60 limit two got a 429)."""
    with TestClient(default_limits_app(settings, **store_overrides)) as client:
        responses = sign_n(client, 7)
        assert [r.status_code for r in responses] == [202] * 7
        assert confirm_all(client, smtp_server, mail_worker) == ["confirmed"] * 7
        assert count(client) == 7
    assert statuses(clean_database) == ["confirmed"] * 7


def test_refused_requests_do_not_use_up_the_allowance(settings, clean_database, store_overrides):
    with TestClient(limited_app(settings, **store_overrides)) as client:
        refused = [
            client.post(SIGN_URL, json=signer(email=f"x{i}@example.org", postal_code="00000"))
            for i in range(4)
        ] + [client.post(SIGN_URL, json={"email": "y@example.org"}) for _ in range(2)]
        assert {r.status_code for r in refused} == {422}
        assert [r.status_code for r in sign_n(client, 4)] == [202] * 4
    # Burst 3/60: the three accepted first are not held; only the fourth is.
    assert statuses(clean_database) == ["pending", "pending", "pending", "held"]


def test_one_client_flooding_many_addresses_is_held_not_counted(
    settings, clean_database, store_overrides, smtp_server, mail_worker
):
    with TestClient(limited_app(settings, **store_overrides)) as client:
        assert [r.status_code for r in sign_n(client, 8)] == [202] * 8
        outcomes = confirm_all(client, smtp_server, mail_worker)
        # (the sink receives over parallel SMTP sessions, so not in signing order)
        assert sorted(outcomes) == ["confirmed"] * 3 + ["held_for_review"] * 5
        assert count(client) == 3  # held ones count only once staff release them
        # Confirming a held one again is harmless.
        again = client.post(
            "/v1/signatures/confirm", json={"token": link_in(smtp_server.messages[-1], "/confirm")}
        )
        assert again.json()["status"] == "already_confirmed"
    assert statuses(clean_database) == ["confirmed"] * 3 + ["held"] * 5


def test_a_flood_from_one_address_is_refused(settings, clean_database, store_overrides):
    app = limited_app(settings, rate_limit_requests="4/60", **store_overrides)
    with TestClient(app) as client:
        # Every request counts against the flood ceiling, invalid ones too.
        invalid = [client.post(SIGN_URL, json={}) for _ in range(3)]
        assert {r.status_code for r in invalid} == {422}
        first, refused = sign_n(client, 2)
    assert first.status_code == 202
    assert first.headers["ratelimit-policy"] == '"requests";q=4;w=60'
    assert first.headers["ratelimit"].startswith('"requests";r=0;')
    body = assert_problem(refused, 429)
    assert "retry after" in body["detail"].lower()
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # A refused request did not use up the allowance: only one signature was taken.
    assert statuses(clean_database) == ["pending"]


def test_limits_can_be_turned_off(settings, clean_database):
    app = limited_app(settings, rate_limit_enabled=False, rate_limit_requests="2/60")
    with TestClient(app) as client:
        assert {r.status_code for r in sign_n(client, 6)} == {202}
    assert set(statuses(clean_database)) == {"pending"}


def test_two_instances_share_limits_through_redis(settings, clean_database):
    secret = SecretStr(uuid.uuid4().hex)
    first = limited_app(settings, redis_url=REDIS_URL, secret_key=secret)
    second = limited_app(settings, redis_url=REDIS_URL, secret_key=secret)
    with TestClient(first) as one, TestClient(second) as two:
        codes = [r.status_code for r in sign_n(one, 2) + sign_n(two, 2)]
    assert codes == [202] * 4
    assert statuses(clean_database) == ["pending"] * 3 + ["held"]


def test_forwarded_for_is_believed_only_from_trusted_proxies(settings, clean_database):
    app = limited_app(settings, trusted_proxies=["10.0.0.0/8"], rate_limit_requests="3/60")
    with TestClient(app, client=("198.51.100.7", 5000)) as direct:
        # Not a trusted proxy: a forged X-Forwarded-For does not buy fresh limits.
        forged = [
            sign_n(direct, 1, **{"X-Forwarded-For": f"203.0.113.{i}"})[0].status_code
            for i in range(4)
        ]
    assert forged == [202, 202, 202, 429]  # the flood ceiling, 3/60 here
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
