"""Held signatures (taken past an address's allowance): staff list them, release them (they
count, once confirmed) or strike them; each action is audited."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.admin.models import Scope
from api.db import Database
from api.main import create_app
from tests.admin.helpers import auth, make_key
from tests.admin.test_signatures import signature_id
from tests.conftest import link_in
from tests.petitions.helpers import SIGN_URL, SLUG, count, signer
from tests.test_errors import assert_problem

pytestmark = pytest.mark.usefixtures("fresh_rate_limit_window")


def allowance_of_one(settings):
    update = {
        "rate_limit_enabled": True,
        "rate_limit_burst": "1/60",
        "redis_url": None,
        "secret_key": SecretStr(uuid.uuid4().hex),
    }
    return create_app(settings.model_copy(update=update))


def confirm(client, smtp_server, email: str) -> str:
    [message] = smtp_server.to(email)
    response = client.post("/v1/signatures/confirm", json={"token": link_in(message, "/confirm")})
    assert response.status_code == 200, response.text
    return response.json()["status"]


def test_release_and_strike_held_signatures(
    settings, clean_database: Database, smtp_server, mail_worker
) -> None:
    moderator = auth(make_key(clean_database, Scope.signatures_moderate.value))
    reader = auth(make_key(clean_database, Scope.signatures_read.value))
    emails = ["first@example.org", "held1@example.org", "held2@example.org", "held3@example.org"]
    with TestClient(allowance_of_one(settings)) as client:
        for email in emails:
            assert client.post(SIGN_URL, json=signer(email=email)).status_code == 202
        mail_worker.drain()
        assert confirm(client, smtp_server, "first@example.org") == "confirmed"
        assert confirm(client, smtp_server, "held1@example.org") == "held_for_review"
        assert confirm(client, smtp_server, "held2@example.org") == "held_for_review"
        assert count(client) == 1

        # Listing held signatures takes the moderation scope.
        assert_problem(client.get("/v1/admin/signatures/held", headers=reader), 403)
        listed = client.get("/v1/admin/signatures/held", headers=moderator)
        assert listed.status_code == 200, listed.text
        held = {item["id"]: item for item in listed.json()["items"]}
        assert {item["status"] for item in held.values()} == {"held"}
        assert len(held) == 3
        assert "held1@example.org" not in listed.text  # masked without signatures:export

        # Release one confirmed held signature: it counts now.
        held1 = signature_id(clean_database, "held1@example.org")
        released = client.post(
            f"/v1/admin/signatures/{held1}/release",
            json={"reason": "School assembly, checked."},
            headers=moderator,
        )
        assert released.status_code == 200, released.text
        assert released.json()["status"] == "confirmed"
        assert count(client) == 2
        again = client.post(
            f"/v1/admin/signatures/{held1}/release", json={"reason": "x"}, headers=moderator
        )
        assert_problem(again, 409)

        # Strike another: it never counts.
        held2 = signature_id(clean_database, "held2@example.org")
        struck = client.post(
            f"/v1/admin/signatures/{held2}/strike", json={"reason": "Bot."}, headers=moderator
        )
        assert struck.json()["status"] == "struck"

        # Release by filter: a dry run first, then for real. The unconfirmed one becomes
        # pending and counts when its signer confirms.
        body = {"reason": "Rally tablet.", "filter": {"petition": SLUG}}
        dry = client.post(
            "/v1/admin/signatures/release", json={**body, "dry_run": True}, headers=moderator
        )
        assert dry.json() == {"dry_run": True, "released": 1, "counted": 0}
        done = client.post("/v1/admin/signatures/release", json=body, headers=moderator)
        assert done.json() == {"dry_run": False, "released": 1, "counted": 0}
        assert count(client) == 2
        assert confirm(client, smtp_server, "held3@example.org") == "confirmed"
        assert count(client) == 3

        audit = client.get("/v1/admin/audit", headers=auth(make_key(clean_database))).json()
        actions = [entry["action"] for entry in audit["items"]]
        assert actions[:3] == ["signatures.release", "signature.strike", "signature.release"]
        single = audit["items"][2]
        assert single["target_id"] == str(held1)
        assert single["after"]["reason"] == "School assembly, checked."
        assert single["after"]["counted"] is True
        assert "@" not in str(audit["items"][:3])  # no signer's address in the log


def test_a_held_signer_can_withdraw_and_see_it(
    settings, clean_database: Database, smtp_server, mail_worker
) -> None:
    with TestClient(allowance_of_one(settings)) as client:
        for email in ("one@example.org", "two@example.org"):
            assert client.post(SIGN_URL, json=signer(email=email)).status_code == 202
        # Signing again while held: a reminder with a confirm link, as for a pending one.
        client.post(SIGN_URL, json=signer(email="two@example.org"))
        mail_worker.drain()
        messages = smtp_server.to("two@example.org")
        assert len(messages) == 2
        assert all("/confirm?token=" in m.get_body(("plain",)).get_content() for m in messages)
        token = link_in(messages[0], "/withdraw")
        withdrawn = client.post("/v1/signatures/withdraw", json={"token": token})
        assert withdrawn.json()["status"] == "withdrawn"
        assert count(client) == 0
