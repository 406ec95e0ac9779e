"""Every admin operation, as listed by the OpenAPI document, against: no key, an unknown key, a
revoked key, keys lacking each scope it needs (401/401/401/403), and a key with exactly those
scopes (2xx). A new operation fails here until it has an example request below."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from api.abuse.models import ALL_PETITIONS, BlockedEmailDomain, BlockedIpRange, SigningPause
from api.config import Settings
from api.db import Database
from api.incident.models import Source
from api.main import create_app
from tests.admin.helpers import (
    ALL_SCOPES,
    DISCREPANCY_ID,
    FACT_WITH_THREE_CITATIONS,
    QUOTE,
    SOURCE_ID,
    auth,
    create_draft,
    insert_signatures,
    make_key,
)
from tests.petitions.helpers import SLUG
from tests.test_errors import assert_problem


def admin_spec() -> dict[str, Any]:
    """The OpenAPI document, from an app that never opens its database."""
    settings = Settings(
        environment="test",
        database_url=f"sqlite:///{Path(tempfile.gettempdir()) / 'advocacy-openapi-only.db'}",
        secret_key="openapi-only",
        mail_worker_in_process=False,
    )
    return create_app(settings).openapi()


def _admin_operations() -> list[tuple[str, list[str]]]:
    """(label, scopes) of every operation under /v1/admin, from the OpenAPI document."""
    spec = admin_spec()
    operations = []
    for path, item in spec["paths"].items():
        if not path.startswith("/v1/admin/"):
            continue
        for method, operation in item.items():
            [requirement] = operation["security"]
            operations.append((f"{method.upper()} {path}", requirement["ApiKey"]))
    return operations


OPERATIONS = _admin_operations()


@dataclass
class Call:
    method: str
    url: str
    expect: int = 200
    kwargs: dict[str, Any] = field(default_factory=dict)


def _unreferenced_fact(database: Database) -> str:
    from api.incident.models import Fact
    from api.petitions.models import Petition

    with database.session() as session:
        body = session.exec(select(Petition.body)).first() or ""
        for fact_id in session.exec(select(Fact.id).order_by(Fact.id)):
            if f"[fact:{fact_id}]" not in body:
                return fact_id
    raise AssertionError("every fact is referenced")


def _add_uncited_source(database: Database) -> str:
    with database.session(write=True) as session:
        session.add(
            Source(id="uncited", position=99, kind="note", language="en", content_sha256="e" * 64)
        )
    return "uncited"


def _add(database: Database, row: Any) -> None:
    with database.session(write=True) as session:
        session.add(row)


NEW_PETITION = {
    "slug": "new-petition",
    "title": "T",
    "ask": "A",
    "target": "Someone",
    "body": "B",
    "goal": 10,
}
NEW_DISCREPANCY = {
    "id": "new-discrepancy",
    "about": "Something",
    "fact_ids": [FACT_WITH_THREE_CITATIONS],
    "kind": "substantive",
    "versions": [
        {**QUOTE, "says": "One thing."},
        {
            "source_id": "article-please-let-me-go",
            "quote": "The officer with Kaia then tells the 6-year-old",
            "start": 980,
            "end": 1027,
            "says": "Another.",
        },
    ],
}

REQUESTS: dict[str, Callable[[Database], Call]] = {
    "GET /v1/admin/petitions": lambda db: Call("GET", "/v1/admin/petitions"),
    "POST /v1/admin/petitions": lambda db: Call(
        "POST", "/v1/admin/petitions", 201, {"json": NEW_PETITION}
    ),
    "GET /v1/admin/petitions/{slug}": lambda db: Call("GET", f"/v1/admin/petitions/{SLUG}"),
    "PATCH /v1/admin/petitions/{slug}": lambda db: Call(
        "PATCH", f"/v1/admin/petitions/{SLUG}", 200, {"json": {"goal": 20000}}
    ),
    "PUT /v1/admin/petitions/{slug}/text/{lang}": lambda db: Call(
        "PUT",
        f"/v1/admin/petitions/{SLUG}/text/es",
        200,
        {"json": {"title": "T", "ask": "A", "target": "Alguien", "body": "B"}},
    ),
    "DELETE /v1/admin/petitions/{slug}/text/{lang}": lambda db: Call(
        "DELETE", f"/v1/admin/petitions/{SLUG}/text/es"
    ),
    "POST /v1/admin/petitions/{slug}/open": lambda db: Call(
        "POST", f"/v1/admin/petitions/{create_draft(db)}/open"
    ),
    "POST /v1/admin/petitions/{slug}/close": lambda db: Call(
        "POST", f"/v1/admin/petitions/{SLUG}/close"
    ),
    "POST /v1/admin/petitions/{slug}/pause": lambda db: Call(
        "POST", f"/v1/admin/petitions/{SLUG}/pause", 200, {"json": {}}
    ),
    "POST /v1/admin/petitions/{slug}/resume": lambda db: (
        _add(db, SigningPause(scope=SLUG)),
        Call("POST", f"/v1/admin/petitions/{SLUG}/resume", 204),
    )[1],
    "GET /v1/admin/signing/pauses": lambda db: Call("GET", "/v1/admin/signing/pauses"),
    "POST /v1/admin/signing/pause": lambda db: Call(
        "POST", "/v1/admin/signing/pause", 200, {"json": {"reason": "bots"}}
    ),
    "POST /v1/admin/signing/resume": lambda db: (
        _add(db, SigningPause(scope=ALL_PETITIONS)),
        Call("POST", "/v1/admin/signing/resume", 204),
    )[1],
    "GET /v1/admin/sources/{source_id}": lambda db: Call("GET", f"/v1/admin/sources/{SOURCE_ID}"),
    "POST /v1/admin/sources": lambda db: Call(
        "POST",
        "/v1/admin/sources",
        201,
        {"json": {"id": "new-source", "kind": "note", "language": "en", "text": "Some text."}},
    ),
    "PATCH /v1/admin/sources/{source_id}": lambda db: Call(
        "PATCH", f"/v1/admin/sources/{SOURCE_ID}", 200, {"json": {"publisher": "The Herald"}}
    ),
    "DELETE /v1/admin/sources/{source_id}": lambda db: Call(
        "DELETE", f"/v1/admin/sources/{_add_uncited_source(db)}", 204
    ),
    "POST /v1/admin/facts": lambda db: Call(
        "POST",
        "/v1/admin/facts",
        201,
        {"json": {"id": "new-fact", "topic": "people", "statement": "S.", "citations": [QUOTE]}},
    ),
    "PATCH /v1/admin/facts/{fact_id}": lambda db: Call(
        "PATCH",
        f"/v1/admin/facts/{FACT_WITH_THREE_CITATIONS}",
        200,
        {"json": {"statement": "Kaia Rolle was six."}},
    ),
    "DELETE /v1/admin/facts/{fact_id}": lambda db: Call(
        "DELETE", f"/v1/admin/facts/{_unreferenced_fact(db)}", 204
    ),
    "POST /v1/admin/facts/{fact_id}/citations": lambda db: Call(
        "POST", f"/v1/admin/facts/{FACT_WITH_THREE_CITATIONS}/citations", 201, {"json": QUOTE}
    ),
    "PATCH /v1/admin/facts/{fact_id}/citations/{position}": lambda db: Call(
        "PATCH",
        f"/v1/admin/facts/{FACT_WITH_THREE_CITATIONS}/citations/0",
        200,
        {"json": {"start": QUOTE["start"]}},
    ),
    "DELETE /v1/admin/facts/{fact_id}/citations/{position}": lambda db: Call(
        "DELETE", f"/v1/admin/facts/{FACT_WITH_THREE_CITATIONS}/citations/2", 204
    ),
    "POST /v1/admin/discrepancies": lambda db: Call(
        "POST", "/v1/admin/discrepancies", 201, {"json": NEW_DISCREPANCY}
    ),
    "PATCH /v1/admin/discrepancies/{discrepancy_id}": lambda db: Call(
        "PATCH", f"/v1/admin/discrepancies/{DISCREPANCY_ID}", 200, {"json": {"about": "How."}}
    ),
    "DELETE /v1/admin/discrepancies/{discrepancy_id}": lambda db: Call(
        "DELETE", f"/v1/admin/discrepancies/{DISCREPANCY_ID}", 204
    ),
    "GET /v1/admin/signatures": lambda db: Call("GET", "/v1/admin/signatures"),
    "POST /v1/admin/signatures/strike": lambda db: Call(
        "POST",
        "/v1/admin/signatures/strike",
        200,
        {"json": {"reason": "test", "filter": {"petition": SLUG}, "dry_run": True}},
    ),
    "GET /v1/admin/signatures/{signature_id}": lambda db: Call(
        "GET", f"/v1/admin/signatures/{insert_signatures(db, 1)[0]}"
    ),
    "POST /v1/admin/signatures/{signature_id}/strike": lambda db: Call(
        "POST",
        f"/v1/admin/signatures/{insert_signatures(db, 1, status='pending')[0]}/strike",
        200,
        {"json": {"reason": "Duplicate."}},
    ),
    "GET /v1/admin/signatures/held": lambda db: Call("GET", "/v1/admin/signatures/held"),
    "POST /v1/admin/signatures/release": lambda db: Call(
        "POST",
        "/v1/admin/signatures/release",
        200,
        {"json": {"reason": "test", "filter": {"petition": SLUG}, "dry_run": True}},
    ),
    "POST /v1/admin/signatures/{signature_id}/release": lambda db: Call(
        "POST",
        f"/v1/admin/signatures/{insert_signatures(db, 1, status='held')[0]}/release",
        200,
        {"json": {"reason": "Checked."}},
    ),
    "GET /v1/admin/petitions/{slug}/referrals": lambda db: Call(
        "GET", f"/v1/admin/petitions/{SLUG}/referrals"
    ),
    "GET /v1/admin/petitions/{slug}/signatures/export": lambda db: Call(
        "GET", f"/v1/admin/petitions/{SLUG}/signatures/export"
    ),
    "GET /v1/admin/blocklist/email-domains": lambda db: Call(
        "GET", "/v1/admin/blocklist/email-domains"
    ),
    "POST /v1/admin/blocklist/email-domains": lambda db: Call(
        "POST", "/v1/admin/blocklist/email-domains", 201, {"json": {"domain": "spam.example"}}
    ),
    "DELETE /v1/admin/blocklist/email-domains": lambda db: (
        _add(db, BlockedEmailDomain(domain="spam.example")),
        Call(
            "DELETE",
            "/v1/admin/blocklist/email-domains",
            204,
            {"params": {"domain": "spam.example"}},
        ),
    )[1],
    "GET /v1/admin/blocklist/ip-ranges": lambda db: Call("GET", "/v1/admin/blocklist/ip-ranges"),
    "POST /v1/admin/blocklist/ip-ranges": lambda db: Call(
        "POST", "/v1/admin/blocklist/ip-ranges", 201, {"json": {"cidr": "203.0.113.0/24"}}
    ),
    "DELETE /v1/admin/blocklist/ip-ranges": lambda db: (
        _add(db, BlockedIpRange(cidr="203.0.113.0/24")),
        Call(
            "DELETE", "/v1/admin/blocklist/ip-ranges", 204, {"params": {"cidr": "203.0.113.0/24"}}
        ),
    )[1],
    "GET /v1/admin/audit": lambda db: Call("GET", "/v1/admin/audit"),
}


def test_the_operation_list_is_the_documented_one() -> None:
    assert len(OPERATIONS) >= 30
    assert set(REQUESTS) <= {label for label, _ in OPERATIONS}, "REQUESTS names a gone operation"


@pytest.mark.parametrize(("label", "scopes"), OPERATIONS, ids=[op for op, _ in OPERATIONS])
def test_every_admin_operation_checks_the_key_and_its_scopes(
    label: str, scopes: list[str], client, clean_database: Database
) -> None:
    assert scopes, f"{label} names no scope in its OpenAPI security requirement"
    prepare = REQUESTS.get(label)
    assert prepare is not None, f"add an example request for {label} to REQUESTS"
    call = prepare(clean_database)

    def send(headers: dict[str, str]):
        return client.request(call.method, call.url, headers=headers, **call.kwargs)

    missing = send({})
    assert_problem(missing, 401)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert_problem(send(auth("adv_" + "x" * 43)), 401)
    revoked = assert_problem(send(auth(make_key(clean_database, *scopes, revoked=True))), 401)
    assert "revoked" in revoked["detail"]
    for scope in scopes:
        others = [s for s in ALL_SCOPES if s != scope]
        lacking = assert_problem(send(auth(make_key(clean_database, *others))), 403)
        assert scope in lacking["detail"]
        assert lacking["required_scopes"] == scopes

    right = send(auth(make_key(clean_database, *scopes)))
    assert right.status_code == call.expect, right.text
    assert right.headers["cache-control"] == "no-store"


def test_the_bearer_scheme_is_documented(client) -> None:
    spec = client.get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["ApiKey"]
    assert scheme["type"] == "http" and scheme["scheme"].lower() == "bearer"
    assert "create-api-key" in scheme["description"]
    # Public operations need no key.
    assert "security" not in spec["paths"]["/v1/facts"]["get"]
    export = spec["paths"]["/v1/admin/petitions/{slug}/signatures/export"]["get"]
    assert export["security"] == [{"ApiKey": ["signatures:read"]}]
    assert set(export["responses"]["200"]["content"]) >= {"text/csv", "application/x-ndjson"}
    assert "admin" in {tag["name"] for tag in spec["tags"]}
