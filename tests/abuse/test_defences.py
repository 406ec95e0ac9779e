"""Block lists, disposable addresses, the honeypot, the emergency pause, idempotency."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import func, update
from sqlmodel import select

from api.abuse.models import BlockedEmailDomain, BlockedIpRange, IdempotencyRecord, SigningPause
from api.db import Database, utcnow
from api.mail.models import MailMessage
from api.petitions.models import Signature
from tests.petitions.helpers import SIGN_URL, SLUG, signer
from tests.test_errors import assert_problem


def rows(database: Database, model) -> int:
    with database.session() as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_disposable_email_is_refused(client, clean_database):
    body = assert_problem(client.post(SIGN_URL, json=signer(email="x@mailinator.com")), 422)
    assert body["errors"][0]["field"] == "email"
    assert rows(clean_database, Signature) == 0


def test_staff_blocked_domain_and_subdomains(client, clean_database):
    with clean_database.session(write=True) as session:
        session.add(BlockedEmailDomain(domain="spam-farm.org", reason="stuffing"))
    for address in ("a@spam-farm.org", "b@mx.spam-farm.org"):
        body = assert_problem(client.post(SIGN_URL, json=signer(email=address)), 422)
        assert body["errors"][0]["field"] == "email"
        assert body["errors"][0]["code"] == "email_domain_blocked"
    assert client.post(SIGN_URL, json=signer(email="c@not-spam-farm.org")).status_code == 202


def test_blocked_ip_range(settings, clean_database):
    from api.main import create_app

    with clean_database.session(write=True) as session:
        session.add(BlockedIpRange(cidr="203.0.113.0/24", reason="bot farm"))
    app = create_app(settings)
    with TestClient(app, client=("203.0.113.50", 5000)) as blocked:
        assert_problem(blocked.post(SIGN_URL, json=signer()), 403)
    with TestClient(app, client=("198.51.100.1", 5000)) as fine:
        assert fine.post(SIGN_URL, json=signer()).status_code == 202


def test_honeypot_answers_as_usual_but_keeps_nothing(client, clean_database):
    response = client.post(SIGN_URL, json=signer(website="http://buy.example"))
    assert response.status_code == 202
    assert response.json() == {"status": "pending_confirmation"}
    assert rows(clean_database, Signature) == 0
    assert rows(clean_database, MailMessage) == 0


def test_emergency_pause_one_petition_and_all(client, clean_database):
    for scope in (SLUG, "*"):
        with clean_database.session(write=True) as session:
            session.add(SigningPause(scope=scope, reason="attack", retry_after_seconds=120))
        response = client.post(SIGN_URL, json=signer())
        assert_problem(response, 503)
        assert response.headers["retry-after"] == "120"
        with clean_database.session(write=True) as session:
            session.delete(session.get(SigningPause, scope))
    assert client.post(SIGN_URL, json=signer()).status_code == 202


def test_idempotency_replays_and_refuses_a_different_body(client, clean_database):
    key = str(uuid.uuid4())
    first = client.post(SIGN_URL, json=signer(), headers={"Idempotency-Key": key})
    again = client.post(SIGN_URL, json=signer(), headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert rows(clean_database, MailMessage) == 1  # the repeat did not act (no reminder)

    other = client.post(
        SIGN_URL, json=signer(email="else@example.org"), headers={"Idempotency-Key": key}
    )
    body = assert_problem(other, 422)
    assert body["errors"][0]["field"] == "Idempotency-Key"
    assert_problem(
        client.post(SIGN_URL, json=signer(), headers={"Idempotency-Key": "bad key"}), 422
    )


def test_idempotency_replays_errors_too_and_expires(client, clean_database):
    key = str(uuid.uuid4())
    bad = signer(postal_code="00000")
    assert client.post(SIGN_URL, json=bad, headers={"Idempotency-Key": key}).status_code == 422
    replay = client.post(SIGN_URL, json=bad, headers={"Idempotency-Key": key})
    assert replay.status_code == 422 and replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["content-type"] == "application/problem+json"
    with clean_database.session(write=True) as session:
        session.exec(update(IdempotencyRecord).values(expires_at=utcnow()))
    fresh = client.post(SIGN_URL, json=bad, headers={"Idempotency-Key": key})
    assert "idempotent-replayed" not in fresh.headers


def test_concurrent_requests_with_one_key_act_once(client, clean_database):
    key = str(uuid.uuid4())
    body = signer()

    def post(_):
        return client.post(SIGN_URL, json=body, headers={"Idempotency-Key": key}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(post, range(16)))
    assert set(codes) <= {202, 409}
    assert 202 in codes
    assert rows(clean_database, Signature) == 1
    assert rows(clean_database, MailMessage) == 1


def test_hsts_only_over_https(settings, clean_database):
    from api.main import create_app

    app = create_app(settings)
    with TestClient(app, base_url="https://testserver") as secure:
        assert "max-age" in secure.get("/healthz").headers["strict-transport-security"]
    with TestClient(app) as plain:
        assert "strict-transport-security" not in plain.get("/healthz").headers
