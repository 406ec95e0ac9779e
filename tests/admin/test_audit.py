"""The audit log: every admin action, who and when, before and after; no signer's data."""

from __future__ import annotations

import json
import logging

from sqlmodel import select

from api.admin.models import AuditEntry
from api.db import Database
from tests.admin.helpers import FACT_WITH_THREE_CITATIONS, auth, make_key
from tests.admin.test_signatures import sign_and_confirm, signature_id
from tests.petitions.helpers import SLUG, signer
from tests.test_errors import assert_problem


def audit(client, headers, **params) -> list[dict]:
    response = client.get("/v1/admin/audit", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_actions_are_logged_with_before_and_after(client, clean_database: Database) -> None:
    staff = auth(make_key(clean_database, "petitions:write", "facts:write", name="staff"))
    auditor = auth(make_key(clean_database, "audit:read", name="auditor"))
    client.patch(f"/v1/admin/petitions/{SLUG}", json={"title": "A new title"}, headers=staff)
    client.post(f"/v1/admin/petitions/{SLUG}/close", headers=staff)
    client.patch(
        f"/v1/admin/facts/{FACT_WITH_THREE_CITATIONS}",
        json={"statement": "Kaia was six."},
        headers=staff,
    )

    entries = audit(client, auditor)
    assert [e["action"] for e in entries] == ["fact.update", "petition.close", "petition.update"]
    assert all(e["key_name"] == "staff" and e["key_id"] for e in entries)
    fact, close, edit = entries
    assert fact["target_type"] == "fact" and fact["target_id"] == FACT_WITH_THREE_CITATIONS
    assert fact["before"]["statement"] != fact["after"]["statement"] == "Kaia was six."
    assert close["before"]["status"] == "open" and close["after"]["status"] == "closed"
    assert close["after"]["closed_at"]
    assert edit["before"]["title"] != edit["after"]["title"] == "A new title"
    assert edit["before"]["version"]["number"] + 1 == edit["after"]["version"]["number"]
    assert entries[0]["at"] >= entries[1]["at"] >= entries[2]["at"]  # newest first

    assert [e["action"] for e in audit(client, auditor, target_type="petition")] == [
        "petition.close",
        "petition.update",
    ]
    assert len(audit(client, auditor, action="fact.update")) == 1
    assert len(audit(client, auditor, key_id=fact["key_id"])) == 3
    page = client.get("/v1/admin/audit", params={"limit": 2}, headers=auditor).json()
    assert len(page["items"]) == 2
    assert [e["action"] for e in client.get(page["next"], headers=auditor).json()["items"]] == [
        "petition.update"
    ]


def test_a_refused_action_leaves_no_entry(client, admin, clean_database: Database) -> None:
    assert_problem(
        client.patch(f"/v1/admin/petitions/{SLUG}", json={"title": None}, headers=admin), 422
    )
    bad_quote = {"source_id": "article-cable-ties-tweet", "quote": "x", "start": 0, "end": 5}
    assert_problem(
        client.post(
            "/v1/admin/facts",
            json={"id": "x", "topic": "t", "statement": "s", "citations": [bad_quote]},
            headers=admin,
        ),
        422,
    )
    assert_problem(client.post(f"/v1/admin/petitions/{SLUG}/open", headers=admin), 409)
    with clean_database.session() as session:
        assert session.exec(select(AuditEntry)).all() == []


def test_no_signer_data_in_the_audit_log_or_the_logs(
    client, admin, smtp_server, mail_worker, clean_database: Database, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    person = signer(email="private.person@example.org", last_name="Zabriskie", postal_code="32789")
    sign_and_confirm(client, smtp_server, mail_worker, person)
    sid = signature_id(clean_database, "private.person@example.org")
    caplog.clear()

    found = client.get(
        "/v1/admin/signatures",
        params={"email": "private.person@example.org", "postal_code": "32789"},
        headers=admin,
    ).json()["items"]
    assert found[0]["last_name"] == "Zabriskie"  # admin answers show what moderators need
    ip_hash = found[0]["ip_hash"]
    client.post(
        "/v1/admin/signatures/strike",
        json={
            "reason": "Test",
            "filter": {
                "email": "private.person@example.org",
                "postal_code": "32789",
                "ip_hash": ip_hash,
                "email_domain": "example.org",
            },
        },
        headers=admin,
    )
    client.post(f"/v1/admin/signatures/{sid}/strike", json={"reason": "again"}, headers=admin)
    client.post("/v1/admin/blocklist/ip-ranges", json={"cidr": "198.51.100.23"}, headers=admin)
    client.delete("/v1/admin/blocklist/ip-ranges", params={"cidr": "198.51.100.23"}, headers=admin)
    client.get(f"/v1/admin/petitions/{SLUG}/signatures/export", headers=admin)

    entries = audit(client, admin)
    strike = next(e for e in entries if e["action"] == "signatures.strike")
    assert strike["after"]["signature_ids"] == [sid]
    assert strike["after"]["reason"] == "Test"
    assert strike["after"]["filter"] == {
        "email": "(given)",
        "postal_code": "(given)",
        "ip_hash": "(given)",
        "email_domain": "example.org",
    }
    assert strike["before"] == {"by_status": {"pending": 0, "held": 0, "confirmed": 1}}
    logged = json.dumps(entries)
    for secret in ("private.person", "Zabriskie", "32789", ip_hash):
        assert secret not in logged, secret

    # The server's log lines (httpx logs the test client's own requests, query included).
    lines = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "/v1/admin/signatures" in lines  # the access log saw the requests...
    for secret in ("private.person", "Zabriskie", "32789", ip_hash, "198.51.100.23"):
        assert secret not in lines, secret  # ...and none of the signer's data
