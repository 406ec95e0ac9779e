"""Petitions through the admin API: drafts, versions, open/close, and the emergency switch."""

from __future__ import annotations

from sqlmodel import select

from api.abuse.models import SigningPause
from api.db import Database
from api.petitions.models import Signature
from tests.admin.helpers import create_draft
from tests.conftest import link_in
from tests.petitions.helpers import SIGN_URL, SLUG, signer
from tests.test_errors import assert_problem

NEW = {
    "slug": "orange-county-schools",
    "title": "No arrests of young children in Orange County schools",
    "ask": "Adopt a policy that no child under 12 is arrested at school.",
    "target": "Orange County School Board",
    "body": "In September 2019 ... [fact:kaia-age-six]",
    "goal": 5000,
    "milestones": [1000, 2500, 5000],
    "closes_at": "2099-06-30T23:59:59Z",
}


def test_create_makes_a_draft_nobody_sees(client, admin) -> None:
    response = client.post("/v1/admin/petitions", json=NEW, headers=admin)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/v1/admin/petitions/orange-county-schools"
    body = response.json()
    assert body["status"] == "draft"
    assert body["version"]["number"] == 1
    assert [v["number"] for v in body["versions"]] == [1]
    assert body["verified_count"] == 0
    assert body["closes_at"] == "2099-06-30T23:59:59Z"
    assert_problem(client.get("/v1/petitions/orange-county-schools"), 404)

    assert_problem(client.post("/v1/admin/petitions", json=NEW, headers=admin), 409)
    listed = client.get("/v1/admin/petitions", headers=admin).json()["items"]
    assert {p["slug"] for p in listed} == {SLUG, "orange-county-schools"}


def test_create_refuses_bad_input_naming_the_field(client, admin) -> None:
    late_open = {**NEW, "opens_at": "2099-07-01T00:00:00Z"}
    body = assert_problem(client.post("/v1/admin/petitions", json=late_open, headers=admin), 422)
    assert body["errors"][0]["field"] == "closes_at"
    body = assert_problem(
        client.post("/v1/admin/petitions", json={**NEW, "milestones": [5000, 1000]}, headers=admin),
        422,
    )
    assert body["errors"][0]["field"] == "milestones"
    body = assert_problem(
        client.post("/v1/admin/petitions", json={**NEW, "status": "open"}, headers=admin), 422
    )
    assert body["errors"][0]["field"] == "status"  # unknown fields are refused
    naive = {**NEW, "closes_at": "2099-06-30T23:59:59"}
    body = assert_problem(client.post("/v1/admin/petitions", json=naive, headers=admin), 422)
    assert body["errors"][0]["field"] == "closes_at"


def test_a_text_change_makes_a_new_version_and_old_signatures_keep_theirs(
    client, admin, smtp_server, mail_worker, clean_database: Database
) -> None:
    before = client.get(f"/v1/petitions/{SLUG}").json()["version"]
    assert client.post(SIGN_URL, json=signer(email="early@example.org")).status_code == 202

    edited = client.patch(
        f"/v1/admin/petitions/{SLUG}",
        json={"ask": "Pass a law making 12 the minimum age of arrest in Florida."},
        headers=admin,
    )
    assert edited.status_code == 200, edited.text
    after = edited.json()
    assert after["version"]["number"] == before["number"] + 1
    assert after["version"]["content_hash"] != before["content_hash"]
    assert [v["number"] for v in after["versions"]] == [1, 2]
    assert after["versions"][0]["content_hash"] == before["content_hash"]
    assert after["versions"][0]["ask"] != after["versions"][1]["ask"]
    public = client.get(f"/v1/petitions/{SLUG}").json()
    assert public["version"] == after["version"]
    assert public["ask"].startswith("Pass a law making 12")

    # Not a text change: no new version.
    goal = client.patch(f"/v1/admin/petitions/{SLUG}", json={"goal": 20000}, headers=admin)
    assert goal.json()["version"] == after["version"]
    assert goal.json()["goal"] == 20000
    # The same text again: no new version either.
    same = client.patch(f"/v1/admin/petitions/{SLUG}", json={"ask": public["ask"]}, headers=admin)
    assert same.json()["version"]["number"] == 2

    assert client.post(SIGN_URL, json=signer(email="late@example.org")).status_code == 202
    mail_worker.drain()
    for address in ("early@example.org", "late@example.org"):
        [message] = smtp_server.to(address)
        token = link_in(message, "/confirm")
        assert client.post("/v1/signatures/confirm", json={"token": token}).status_code == 200
    with clean_database.session() as session:
        versions = {s.email: s.petition_version for s in session.exec(select(Signature)).all()}
    assert versions == {"early@example.org": 1, "late@example.org": 2}


def test_edit_refuses_null_for_required_fields(client, admin) -> None:
    body = assert_problem(
        client.patch(f"/v1/admin/petitions/{SLUG}", json={"title": None}, headers=admin), 422
    )
    assert body["errors"][0]["field"] == "title"
    assert_problem(
        client.patch("/v1/admin/petitions/no-such", json={"goal": 1}, headers=admin), 404
    )


def test_open_and_close(client, admin, clean_database: Database) -> None:
    slug = create_draft(clean_database, "a-draft")
    opened = client.post(f"/v1/admin/petitions/{slug}/open", headers=admin)
    assert opened.status_code == 200, opened.text
    assert opened.json()["status"] == "open"
    assert client.get(f"/v1/petitions/{slug}").json()["status"] == "open"
    assert_problem(client.post(f"/v1/admin/petitions/{slug}/open", headers=admin), 409)

    closed = client.post(f"/v1/admin/petitions/{slug}/close", headers=admin).json()
    assert closed["status"] == "closed"
    assert closed["closed_at"] is not None
    assert client.get(f"/v1/petitions/{slug}").json()["status"] == "closed"
    refused = client.post(f"/v1/petitions/{slug}/signatures", json=signer())
    assert_problem(refused, 409)
    assert_problem(client.post(f"/v1/admin/petitions/{slug}/close", headers=admin), 409)

    reopened = client.post(f"/v1/admin/petitions/{slug}/open", headers=admin).json()
    assert reopened["status"] == "open"
    assert reopened["closed_at"] is None

    draft = create_draft(clean_database, "another-draft")
    assert_problem(client.post(f"/v1/admin/petitions/{draft}/close", headers=admin), 409)
    client.patch(
        f"/v1/admin/petitions/{draft}", json={"closes_at": "2020-01-01T00:00:00Z"}, headers=admin
    )
    body = assert_problem(client.post(f"/v1/admin/petitions/{draft}/open", headers=admin), 409)
    assert "closes_at" in body["detail"]
    assert_problem(client.post("/v1/admin/petitions/no-such/open", headers=admin), 404)


def _pauses(database: Database) -> dict[str, tuple[str, int]]:
    with database.session() as session:
        return {
            p.scope: (p.reason, p.retry_after_seconds)
            for p in session.exec(select(SigningPause)).all()
        }


def test_the_emergency_switch_manages_pause_rows(client, admin, clean_database: Database) -> None:
    one = client.post(
        f"/v1/admin/petitions/{SLUG}/pause",
        json={"reason": "Bot wave", "retry_after_seconds": 120},
        headers=admin,
    )
    assert one.status_code == 200, one.text
    assert one.json()["scope"] == SLUG
    assert _pauses(clean_database) == {SLUG: ("Bot wave", 120)}
    assert (
        client.get(f"/v1/admin/petitions/{SLUG}", headers=admin).json()["paused"]["scope"] == SLUG
    )
    # Signing there now answers 503 with Retry-After.
    paused = assert_problem(client.post(SIGN_URL, json=signer()), 503)
    assert paused["status"] == 503

    # Pausing again replaces the reason and the retry time.
    client.post(f"/v1/admin/petitions/{SLUG}/pause", json={"reason": "Still"}, headers=admin)
    assert _pauses(clean_database) == {SLUG: ("Still", 600)}

    everywhere = client.post("/v1/admin/signing/pause", json={"reason": "All"}, headers=admin)
    assert everywhere.json()["scope"] == "*"
    assert _pauses(clean_database) == {SLUG: ("Still", 600), "*": ("All", 600)}
    listed = client.get("/v1/admin/signing/pauses", headers=admin).json()
    assert [p["scope"] for p in listed] == ["*", SLUG]

    assert client.post(f"/v1/admin/petitions/{SLUG}/resume", headers=admin).status_code == 204
    assert _pauses(clean_database) == {"*": ("All", 600)}
    # The pause on all still applies to this petition.
    assert client.get(f"/v1/admin/petitions/{SLUG}", headers=admin).json()["paused"]["scope"] == "*"
    assert_problem(client.post(f"/v1/admin/petitions/{SLUG}/resume", headers=admin), 404)
    assert client.post("/v1/admin/signing/resume", headers=admin).status_code == 204
    assert _pauses(clean_database) == {}
    assert_problem(client.post("/v1/admin/signing/resume", headers=admin), 404)
    assert client.get(f"/v1/admin/petitions/{SLUG}", headers=admin).json()["paused"] is None

    assert_problem(client.post("/v1/admin/petitions/no-such/pause", json={}, headers=admin), 404)
