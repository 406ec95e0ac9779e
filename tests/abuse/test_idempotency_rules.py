"""Idempotency keys as Stripe keeps them: only final outcomes are replayed, a key left in
progress by a crash is recovered after its lease, and stored answers keep no personal data
beyond what the caller could fetch again, and go with the signer's data."""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import select

from api.abuse.models import IdempotencyRecord
from api.db import Database, utcnow
from api.main import create_app
from api.petitions.models import Petition, Signature
from tests.admin.helpers import auth, make_key
from tests.conftest import link_in
from tests.petitions.helpers import SIGN_URL, close_long_ago, run_anonymize, signer


def records(database: Database) -> list[IdempotencyRecord]:
    with database.session() as session:
        return list(session.exec(select(IdempotencyRecord)).all())


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def test_a_429_is_not_replayed(fresh_rate_limit_window, settings, clean_database: Database) -> None:
    # Signing refuses (429) past the flood ceiling; past the allowance it holds instead.
    limited = settings.model_copy(
        update={"rate_limit_enabled": True, "rate_limit_requests": "1/60"}
    )
    with TestClient(create_app(limited)) as client:
        assert client.post(SIGN_URL, json=signer(), headers=keyed("first")).status_code == 202
        body = signer(email="second@example.org")
        refused = client.post(SIGN_URL, json=body, headers=keyed("second"))
        assert refused.status_code == 429
        again = client.post(SIGN_URL, json=body, headers=keyed("second"))
        assert again.status_code == 429
        assert "idempotent-replayed" not in again.headers  # counted afresh, not stored
    assert len(records(clean_database)) == 1


def test_a_409_is_not_replayed(client, clean_database: Database) -> None:
    with clean_database.session(write=True) as session:
        session.exec(update(Petition).values(status="closed", closed_at=utcnow()))
    key = keyed(str(uuid.uuid4()))
    assert client.post(SIGN_URL, json=signer(), headers=key).status_code == 409
    with clean_database.session(write=True) as session:
        session.exec(update(Petition).values(status="open", closed_at=None))
    # The same request, once it can succeed, does.
    retry = client.post(SIGN_URL, json=signer(), headers=key)
    assert retry.status_code == 202 and "idempotent-replayed" not in retry.headers


def test_a_key_left_in_progress_by_a_crash_is_taken_over_after_its_lease(
    client, clean_database: Database
) -> None:
    key = keyed(str(uuid.uuid4()))
    assert client.post(SIGN_URL, json=signer(), headers=key).status_code == 202

    def as_a_crash_leaves_it(started: dt.datetime) -> None:
        with clean_database.session(write=True) as session:
            session.exec(
                update(IdempotencyRecord).values(
                    completed=False, status_code=None, response_body=None, created_at=started
                )
            )

    as_a_crash_leaves_it(utcnow())
    busy = client.post(SIGN_URL, json=signer(), headers=key)
    assert busy.status_code == 409 and busy.headers["retry-after"] == "1"

    lease = getattr(client.app.state.settings, "idempotency_lease_seconds", 30)
    as_a_crash_leaves_it(utcnow() - dt.timedelta(seconds=lease + 1))
    taken_over = client.post(SIGN_URL, json=signer(), headers=key)
    assert taken_over.status_code == 202 and "idempotent-replayed" not in taken_over.headers
    replay = client.post(SIGN_URL, json=signer(), headers=key)
    assert replay.headers["idempotent-replayed"] == "true"
    with clean_database.session() as session:
        assert len(session.exec(select(Signature)).all()) == 1


def test_admin_answers_are_replayed_without_their_body(
    client, clean_database: Database, smtp_server, mail_worker
) -> None:
    admin = auth(make_key(clean_database, name="all-scopes"))
    assert client.post(SIGN_URL, json=signer(email="ana@example.org")).status_code == 202
    with clean_database.session() as session:
        signature_id = session.exec(select(Signature.id)).one()
    url = f"/v1/admin/signatures/{signature_id}/strike"
    headers = {**admin, "Idempotency-Key": "strike-1"}
    first = client.post(url, json={"reason": "Bot."}, headers=headers)
    assert first.status_code == 200 and first.json()["status"] == "struck"
    [record] = records(clean_database)
    assert record.completed and record.status_code == 200
    assert not record.response_body and "ana@" not in str(record.response_headers)
    replay = client.post(url, json={"reason": "Bot."}, headers=headers)
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert replay.content == b""  # acted once; read the signature again for its state


def test_withdrawal_and_retention_erase_the_signers_records(
    client, clean_database: Database, smtp_server, mail_worker, database_url
) -> None:
    ana, ben = signer(email="ana@example.org"), signer(email="ben@example.org")
    for n, body in enumerate((ana, ben)):
        assert client.post(SIGN_URL, json=body, headers=keyed(f"sign-{n}")).status_code == 202
    asked = client.post(
        "/v1/signatures/access", json={"email": "ana@example.org"}, headers=keyed("access")
    )
    assert asked.status_code == 202
    assert all(record.subject_hash for record in records(clean_database))
    mail_worker.drain()
    [confirm_ana] = [m for m in smtp_server.to("ana@example.org") if "/confirm" in str(m)]
    withdraw_token = link_in(confirm_ana, "/withdraw")
    done = client.post("/v1/signatures/withdraw", json={"token": withdraw_token})
    assert done.json()["status"] == "withdrawn"
    # Ana's sign and access records are gone; Ben's stays until retention.
    [left] = records(clean_database)
    with clean_database.session() as session:
        ben_hash = session.exec(
            select(Signature.email_hash).where(Signature.email_hash.is_not(None))
        ).one()  # type: ignore[union-attr]
    assert left.subject_hash == ben_hash

    close_long_ago(clean_database)
    run_anonymize(database_url)
    assert records(clean_database) == []
