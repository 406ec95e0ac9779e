"""Signers see and withdraw their own signatures; retention erases old personal data."""

from __future__ import annotations

import re

from sqlmodel import select

from api.petitions.models import Signature
from tests.conftest import link_in
from tests.petitions.helpers import SIGN_URL, SLUG, close_long_ago, count, run_anonymize, signer
from tests.test_errors import assert_problem


def access_token(smtp_server, address) -> str:
    [message] = [m for m in smtp_server.to(address) if "signatures" in m["Subject"].lower()]
    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"/my-signatures\?token=([A-Za-z0-9_-]+)", text).group(1)


def test_see_and_withdraw_my_signatures(client, smtp_server, mail_worker):
    client.post(SIGN_URL, json=signer(email="Me.Myself@gmail.com"))
    mail_worker.drain()
    [confirm] = smtp_server.to("Me.Myself@gmail.com")
    client.post("/v1/signatures/confirm", json={"token": link_in(confirm, "/confirm")})
    assert count(client) == 1

    # Any spelling of the same mailbox finds it.
    asked = client.post("/v1/signatures/access", json={"email": "memyself@googlemail.com"})
    assert asked.status_code == 202 and asked.json() == {"status": "check_your_email"}
    mail_worker.drain()
    token = access_token(smtp_server, "memyself@googlemail.com")

    mine = client.post("/v1/signatures/mine", json={"token": token}).json()["signatures"]
    assert [(s["petition_slug"], s["status"]) for s in mine] == [(SLUG, "confirmed")]
    done = client.post("/v1/signatures/mine/withdraw", json={"token": token, "petition_slug": SLUG})
    assert done.json()["status"] == "withdrawn"
    assert count(client) == 0
    assert client.post("/v1/signatures/mine", json={"token": token}).json() == {"signatures": []}


def test_access_never_reveals_whether_the_email_is_known(client, smtp_server, mail_worker):
    unknown = client.post("/v1/signatures/access", json={"email": "nobody@example.org"})
    assert unknown.status_code == 202 and unknown.json() == {"status": "check_your_email"}
    mail_worker.drain()
    assert smtp_server.messages == []
    assert_problem(client.post("/v1/signatures/mine", json={"token": "y" * 43}), 404)


def test_retention_erases_personal_data_and_keeps_counts(
    client, smtp_server, mail_worker, clean_database, database_url
):
    client.post(SIGN_URL, json=signer())
    mail_worker.drain()
    [message] = smtp_server.to("ana.quintanilla@example.org")
    client.post("/v1/signatures/confirm", json={"token": link_in(message, "/confirm")})
    close_long_ago(clean_database)
    assert "erased personal data of 1 signatures" in run_anonymize(database_url)
    with clean_database.session() as session:
        row = session.exec(select(Signature)).one()
    assert row.status == "confirmed" and row.email is None and row.last_name is None
    assert row.state == "FL"
    assert count(client) == 1
