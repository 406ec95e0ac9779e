"""Counts, stats, the public list, and the privacy rule across every public GET."""

from __future__ import annotations

import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.conftest import link_in
from tests.petitions.helpers import SIGN_URL, SLUG, count, signer

SIGNERS = [
    signer(
        first_name="Ana",
        last_name="Quintanilla",
        email="ana.q@example.org",
        postal_code="32801",
        display_publicly=True,
        comment="For Kaia.",
    ),
    signer(
        first_name="Ben",
        last_name="Okonkwo",
        email="ben.o@example.org",
        postal_code="33101",
        display_publicly=False,
        comment="private",
    ),
    signer(
        first_name="Cleo",
        last_name="Vasquez-Hart",
        email="cleo.vh@example.org",
        postal_code="10001",
        display_publicly=True,
        comment=None,
    ),
    signer(
        first_name="Dee",
        last_name="Marchetti",
        email="dee.m@example.org",
        postal_code="32789",
        display_publicly=True,
        comment="pending only",
    ),
]
REQUEST_ID = re.compile(r"\b[0-9a-f]{32}\b")
SECRETS = [
    "Quintanilla",
    "Okonkwo",
    "Vasquez-Hart",
    "Marchetti",
    "example.org",
    "32801",
    "33101",
    "10001",
    "32789",
    "testclient",
]


def sign_and_confirm(client, smtp_server, mail_worker, confirm_count=3):
    for body in SIGNERS:
        assert client.post(SIGN_URL, json=body).status_code == 202
    mail_worker.drain()
    for body in SIGNERS[:confirm_count]:
        [message] = smtp_server.to(body["email"])
        client.post("/v1/signatures/confirm", json={"token": link_in(message, "/confirm")})


def test_stats_and_recent(client, smtp_server, mail_worker):
    sign_and_confirm(client, smtp_server, mail_worker)
    assert count(client) == 3
    stats = client.get(f"/v1/petitions/{SLUG}/stats").json()
    assert {b["key"]: b["count"] for b in stats["by_state"]} == {"FL": 2, "NY": 1}
    counties = {b["key"]: b["count"] for b in stats["by_florida_county"]}
    assert counties == {"Orange County": 1, "Miami-Dade County": 1}
    assert sum(b["count"] for b in stats["by_day"]) == 3

    recent = client.get(f"/v1/petitions/{SLUG}/signatures/recent").json()["items"]
    assert [r["first_name"] for r in recent] == ["Cleo", "Ana"]  # newest first, public only
    assert recent[1] == {
        "first_name": "Ana",
        "last_initial": "Q",
        "place": "Orange County, FL",
        "comment": "For Kaia.",
        "signed_at": recent[1]["signed_at"],
    }
    page = client.get(f"/v1/petitions/{SLUG}/signatures/recent", params={"limit": 1}).json()
    second = client.get(page["next"]).json()
    assert [r["first_name"] for r in page["items"] + second["items"]] == ["Cleo", "Ana"]


def test_count_is_cacheable(client):
    response = client.get(f"/v1/petitions/{SLUG}/count")
    assert "max-age=2" in response.headers["cache-control"]
    assert "stale-while-revalidate" in response.headers["cache-control"]
    etag = response.headers["etag"]
    assert client.get(
        f"/v1/petitions/{SLUG}/count", headers={"If-None-Match": etag}
    ).status_code in (
        200,  # updated_at moves on, so a new tag is fine
        304,
    )
    body = response.json()
    assert set(body) == {"verified", "goal", "updated_at"}


def test_petitions_list_and_one(client):
    items = client.get("/v1/petitions").json()["items"]
    assert [p["slug"] for p in items] == [SLUG]
    petition = client.get(f"/v1/petitions/{SLUG}").json()
    assert petition["status"] == "open"
    assert petition["goal"] > 0 and petition["progress"] == 0
    for fact_id in re.findall(r"\[fact:([a-z0-9-]+)\]", petition["body"]):
        assert client.get(f"/v1/facts/{fact_id}").status_code == 200


def _public_get_paths(app) -> list[str]:
    paths = []
    for path, item in app.openapi()["paths"].items():
        if "get" not in item or path.startswith("/v1/admin") or path.endswith("/events"):
            continue
        paths.append(path)
    return paths


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_personal_data_in_any_public_response_or_log(
    settings, clean_database, smtp_server, mail_worker, caplog, capsys, log_format
):
    # The app sets up logging as it is built: its handler writes the formatted lines (text or
    # JSON, as an operator's log pipeline gets them) to this test's captured stderr.
    app = create_app(settings.model_copy(update={"log_format": log_format, "log_level": "DEBUG"}))
    with TestClient(app) as client:
        _walk_public_reads_and_logs(app, client, smtp_server, mail_worker, caplog)
    # The test SMTP server's own protocol log (logger mail.log) is the recipient's, not ours.
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    if log_format == "json":
        records = [json.loads(line) for line in lines]  # every line is one JSON object
        assert any(record.get("route") == "/v1/facts" for record in records)
        lines = [line for line, r in zip(lines, records, strict=True) if r["logger"] != "mail.log"]
    else:
        lines = [line for line in lines if " mail.log " not in line]
    formatted = "\n".join(lines)
    assert "/v1/petitions/{slug}/signatures" in formatted  # the access log reached stderr
    # Request ids are 32 random hex digits: one may hold a ZIP's five digits by chance (one
    # did: "...9233101..."), which says nothing about what was logged.
    formatted = REQUEST_ID.sub("<request id>", formatted)
    for secret in SECRETS:
        assert secret not in formatted, secret


def _walk_public_reads_and_logs(app, client, smtp_server, mail_worker, caplog):
    caplog.set_level(logging.DEBUG)
    sign_and_confirm(client, smtp_server, mail_worker)
    fact_id = client.get("/v1/facts", params={"limit": 1}).json()["items"][0]["id"]
    source_id = client.get("/v1/sources").json()["items"][0]["id"]
    walked = 0
    for template in _public_get_paths(app):
        path = (
            template.replace("{slug}", SLUG)
            .replace("{fact_id}", fact_id)
            .replace("{source_id}", source_id)
        )
        response = client.get(path)
        assert response.status_code == 200, path
        walked += 1
        for secret in SECRETS:
            assert secret not in response.text, (path, secret)
    assert walked >= 12
    # Every log line of the process, except the test SMTP server's own protocol log (it is
    # the recipient's mail server, not part of the service).
    service_lines = "\n".join(
        record.getMessage() for record in caplog.records if not record.name.startswith("mail.log")
    )
    assert "mail" in service_lines or "GET /v1" in service_lines  # the capture did capture
    for secret in SECRETS:
        assert secret not in service_lines, secret
