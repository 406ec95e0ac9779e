"""Moderation: search signatures, strike them, and counts follow."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from api.db import Database, utcnow
from api.petitions.models import Signature
from tests.admin.helpers import auth, insert_signatures, make_key
from tests.conftest import link_in
from tests.petitions.helpers import SIGN_URL, SLUG, count, signer
from tests.test_errors import assert_problem


def sign_and_confirm(client, smtp_server, mail_worker, *bodies: dict) -> None:
    for body in bodies:
        assert client.post(SIGN_URL, json=body).status_code == 202
    mail_worker.drain()
    for body in bodies:
        [message] = smtp_server.to(body["email"])
        token = link_in(message, "/confirm")
        assert client.post("/v1/signatures/confirm", json={"token": token}).status_code == 200


def signature_id(database: Database, email: str) -> int:
    with database.session() as session:
        found = session.exec(select(Signature.id).where(Signature.email == email)).one()
    assert found is not None
    return found


def test_a_struck_signature_leaves_every_count(
    client, admin, smtp_server, mail_worker, clean_database: Database
) -> None:
    ana = signer(email="ana@example.org", display_publicly=True)
    ben = signer(
        email="ben@example.org", first_name="Ben", postal_code="33101", display_publicly=False
    )
    sign_and_confirm(client, smtp_server, mail_worker, ana, ben)
    assert count(client) == 2
    stats = client.get(f"/v1/petitions/{SLUG}/stats").json()
    assert stats["by_state"] == [{"key": "FL", "count": 2}]
    assert len(client.get(f"/v1/petitions/{SLUG}/signatures/recent").json()["items"]) == 1

    struck = client.post(
        f"/v1/admin/signatures/{signature_id(clean_database, 'ana@example.org')}/strike",
        json={"reason": "Signed for someone else."},
        headers=admin,
    )
    assert struck.status_code == 200, struck.text
    assert struck.json()["status"] == "struck"
    assert count(client) == 1
    assert client.get(f"/v1/admin/petitions/{SLUG}", headers=admin).json()["verified_count"] == 1
    assert client.get(f"/v1/petitions/{SLUG}").json()["verified_count"] == 1
    client.app.state.caches.invalidate("stats")
    stats = client.get(f"/v1/petitions/{SLUG}/stats").json()
    assert stats["by_state"] == [{"key": "FL", "count": 1}]
    assert client.get(f"/v1/petitions/{SLUG}/signatures/recent").json()["items"] == []

    # Striking twice is refused; the signer's links no longer bring it back.
    again = f"/v1/admin/signatures/{signature_id(clean_database, 'ana@example.org')}/strike"
    assert_problem(client.post(again, json={"reason": "again"}, headers=admin), 409)
    [message] = smtp_server.to("ana@example.org")
    withdraw = client.post("/v1/signatures/withdraw", json={"token": link_in(message, "/withdraw")})
    assert_problem(withdraw, 410)
    assert count(client) == 1
    assert_problem(
        client.post("/v1/admin/signatures/999999/strike", json={"reason": "x"}, headers=admin), 404
    )


def test_striking_a_pending_signature_changes_no_count(
    client, admin, smtp_server, mail_worker, clean_database: Database
) -> None:
    client.post(SIGN_URL, json=signer(email="pending@example.org"))
    mail_worker.drain()
    pending = signature_id(clean_database, "pending@example.org")
    client.post(f"/v1/admin/signatures/{pending}/strike", json={"reason": "Bot."}, headers=admin)
    assert count(client) == 0
    [message] = smtp_server.to("pending@example.org")
    late = client.post("/v1/signatures/confirm", json={"token": link_in(message, "/confirm")})
    assert_problem(late, 410)
    assert count(client) == 0


def test_strike_by_filter_with_a_dry_run_first(
    client, admin, smtp_server, mail_worker, clean_database: Database
) -> None:
    bots = [signer(email=f"bot{i}@bots.example", first_name=f"Bot{i}") for i in range(3)]
    human = signer(email="human@example.org")
    sign_and_confirm(client, smtp_server, mail_worker, *bots, human)
    client.post(SIGN_URL, json=signer(email="bot9@bots.example"))  # pending
    assert count(client) == 4

    request = {
        "reason": "Bot wave.",
        "filter": {"petition": SLUG, "email_domain": "BOTS.example"},
        "dry_run": True,
    }
    dry = client.post("/v1/admin/signatures/strike", json=request, headers=admin)
    assert dry.json() == {"dry_run": True, "struck": 4, "uncounted": 3}
    assert count(client) == 4

    done = client.post(
        "/v1/admin/signatures/strike", json={**request, "dry_run": False}, headers=admin
    )
    assert done.json() == {"dry_run": False, "struck": 4, "uncounted": 3}
    assert count(client) == 1
    again = client.post(
        "/v1/admin/signatures/strike", json={**request, "dry_run": False}, headers=admin
    )
    assert again.json()["struck"] == 0
    assert count(client) == 1


def test_strike_by_filter_needs_a_criterion(client, admin) -> None:
    for criteria in ({}, {"status": "confirmed"}):
        body = assert_problem(
            client.post(
                "/v1/admin/signatures/strike",
                json={"reason": "x", "filter": criteria},
                headers=admin,
            ),
            422,
        )
        assert body["errors"][0]["field"] == "filter"
    assert_problem(
        client.post(
            "/v1/admin/signatures/strike",
            json={"reason": "x", "filter": {"petition": "no-such"}},
            headers=admin,
        ),
        404,
    )


def test_search_filters(client, admin, smtp_server, mail_worker, clean_database: Database) -> None:
    sign_and_confirm(
        client,
        smtp_server,
        mail_worker,
        signer(email="Ana.Q+petition@gmail.com", postal_code="32801-1234"),
        signer(email="ben@example.org", postal_code="33101"),
    )
    client.post(SIGN_URL, json=signer(email="cleo@example.org", postal_code="10001"))

    def ids(**params) -> list[str]:
        response = client.get("/v1/admin/signatures", params=params, headers=admin)
        assert response.status_code == 200, response.text
        return [s["email"] for s in response.json()["items"]]

    assert ids() == ["cleo@example.org", "ben@example.org", "Ana.Q+petition@gmail.com"]
    assert ids(status="pending") == ["cleo@example.org"]
    assert ids(petition=SLUG, status="confirmed") == ["ben@example.org", "Ana.Q+petition@gmail.com"]
    # The canonical address: dots and +tags do not matter for Gmail.
    assert ids(email="anaq@googlemail.com") == ["Ana.Q+petition@gmail.com"]
    assert ids(email="nobody@example.org") == []
    assert ids(email_domain="example.org") == ["cleo@example.org", "ben@example.org"]
    assert ids(postal_code="32801") == ["Ana.Q+petition@gmail.com"]  # ZIP matches ZIP+4
    assert ids(postal_code="32801-1234") == ["Ana.Q+petition@gmail.com"]

    everyone = client.get("/v1/admin/signatures", headers=admin).json()["items"]
    ip_hash = everyone[0]["ip_hash"]
    assert ip_hash and len(ip_hash) == 64
    assert len(ids(ip_hash=ip_hash)) == 3  # the test client always comes from one address

    now = utcnow()
    assert len(ids(signed_from=(now - dt.timedelta(hours=1)).isoformat())) == 3
    assert ids(signed_to=(now - dt.timedelta(hours=1)).isoformat()) == []

    page = client.get("/v1/admin/signatures", params={"limit": 2}, headers=admin).json()
    assert len(page["items"]) == 2 and page["next"]
    rest = client.get(page["next"], headers=admin).json()
    assert [s["email"] for s in rest["items"]] == ["Ana.Q+petition@gmail.com"]

    body = assert_problem(
        client.get("/v1/admin/signatures", params={"email": "not-an-email"}, headers=admin), 422
    )
    assert body["errors"][0]["field"] == "email"
    body = assert_problem(
        client.get(
            "/v1/admin/signatures", params={"signed_from": "2026-01-01T00:00"}, headers=admin
        ),
        422,
    )
    assert body["errors"][0]["field"] == "signed_from"  # a time needs its UTC offset


def test_emails_are_masked_without_the_export_scope(client, clean_database: Database) -> None:
    [sid] = insert_signatures(clean_database, 1, email="dana@example.org")
    reader = auth(make_key(clean_database, "signatures:read"))
    exporter = auth(make_key(clean_database, "signatures:read", "signatures:export"))
    masked = client.get(f"/v1/admin/signatures/{sid}", headers=reader).json()
    assert masked["email"] == "d***@example.org"
    assert masked["last_name"] == "Number0"  # moderators see the rest
    assert client.get(f"/v1/admin/signatures/{sid}", headers=exporter).json()["email"] == (
        "dana@example.org"
    )
    listed = client.get("/v1/admin/signatures", headers=reader).json()["items"]
    assert listed[0]["email"] == "d***@example.org"
    assert_problem(client.get("/v1/admin/signatures/123456789", headers=reader), 404)
