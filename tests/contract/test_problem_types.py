"""Every documented error is the one sent: for each operation and each error status it
documents, the error is provoked over HTTP and its `type` compared with the document's."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import delete, update
from sqlmodel import select

from api.abuse.models import AccessToken, BlockedIpRange, SigningPause
from api.config import Settings
from api.db import Database, utcnow
from api.errors import PROBLEM_TYPE_PREFIX, MethodNotAllowed, app_error_classes
from api.idempotency import HEADER, IdempotencyMiddleware, request_fingerprint
from api.incident.models import Incident
from api.main import create_app
from api.petitions.models import Petition, Signature, SignatureToken
from api.security import keyed_hash, token_hash
from api.web.events import stream_slots
from tests.admin.helpers import QUOTE, auth, make_key
from tests.conftest import reset_database
from tests.petitions.helpers import SIGN_URL, SLUG, signer

PROBLEM = "application/problem+json"

# Documented, but not provoked here, and why. Kept short and explicit so the coverage of the
# test cannot shrink unnoticed.
NOT_PROVOKED = {
    # An unexpected exception: tests/test_errors.py raises one from a route of its own.
    "500": "any operation",
}


@dataclass(frozen=True)
class Documented:
    operation_id: str
    method: str
    path: str
    operation: dict[str, Any]
    status: str
    types: frozenset[str]


def documented_problems(spec: dict[str, Any]) -> Iterator[Documented]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if not status.startswith(("4", "5")):
                    continue
                examples = response["content"][PROBLEM]["examples"]
                types = frozenset(example["value"]["type"] for example in examples.values())
                yield Documented(operation["operationId"], method, path, operation, status, types)


@dataclass(frozen=True)
class Env:
    app: FastAPI
    client: TestClient
    database: Database
    settings: Settings
    admin: dict[str, str]
    audit_only: dict[str, str]
    petitions_only: dict[str, str]


def fresh_env(app: FastAPI, client: TestClient, database: Database, settings: Settings) -> Env:
    """The seeded state, with keys: all scopes, and two with one scope each."""
    reset_database(database)
    app.state.caches.clear_all()
    clean_database = database
    return Env(
        app,
        client,
        clean_database,
        settings,
        auth(make_key(clean_database)),
        auth(make_key(clean_database, "audit:read")),
        auth(make_key(clean_database, "petitions:write")),
    )


@pytest.fixture
def env(app: FastAPI, client: TestClient, clean_database: Database, settings: Settings) -> Env:
    return fresh_env(app, client, clean_database, settings)


def _value(parameter: dict[str, Any], *, found: bool) -> str:
    schema = parameter.get("schema", {})
    if schema.get("type") == "integer":
        return "1" if found else "999999"
    if found and "example" in parameter:
        return str(parameter["example"])
    return "no-such-" + parameter["name"].split("_")[0]


def url(doc: Documented, *, found: bool = True, **overrides: str) -> str:
    path = doc.path
    for parameter in doc.operation.get("parameters", []):
        if parameter["in"] == "path":
            value = overrides.get(parameter["name"]) or _value(parameter, found=found)
            path = path.replace("{" + parameter["name"] + "}", value)
    return path


def is_admin(doc: Documented) -> bool:
    return doc.path.startswith("/v1/admin/")


def send(env: Env, doc: Documented, path: str, client: TestClient | None = None, **kwargs: Any):
    headers = {**(env.admin if is_admin(doc) else {}), **kwargs.pop("headers", {})}
    return (client or env.client).request(doc.method.upper(), path, headers=headers, **kwargs)


def provoke(env: Env, doc: Documented):
    status, operation = doc.status, doc.operation
    has_body = "requestBody" in operation
    if status == "400" and has_body:
        raw = b"\xff\xfe\xfd"
        return send(env, doc, url(doc), content=raw, headers={"content-type": "application/json"})
    if status == "413" and has_body:
        big = b'{"x": "' + b"a" * (70 * 1024) + b'"}'
        return send(env, doc, url(doc), content=big, headers={"content-type": "application/json"})
    if status == "401" and is_admin(doc):
        return env.client.request(doc.method.upper(), url(doc))
    if status == "403" and is_admin(doc):
        # A key with a scope this operation does not take.
        key = env.petitions_only if doc.path.startswith("/v1/admin/audit") else env.audit_only
        return env.client.request(doc.method.upper(), url(doc), headers=key, json={})
    if status == "409" and doc.method == "post":
        return in_progress(env, doc)
    if status == "422":
        return invalid(env, doc)
    special = SPECIAL.get((doc.operation_id, status))
    if special is not None:
        return special(env, doc)
    if status == "404" and "{" in doc.path:
        body = {} if has_body else None
        return send(env, doc, url(doc, found=False), json=body)
    return None


def in_progress(env: Env, doc: Documented):
    """A request whose Idempotency-Key another request holds (as if still being processed)."""
    path, key, body = url(doc), str(uuid.uuid4()), b"{}"
    credentials = env.admin["Authorization"] if is_admin(doc) else ""
    middleware = IdempotencyMiddleware(env.app, env.database, env.settings)
    key_hash = keyed_hash(env.settings.secret(), "idempotency", f"{path}\x00{credentials}\x00{key}")
    request_hash = request_fingerprint(env.settings.secret(), path, b"", body)
    assert middleware._begin(key_hash, request_hash)[0] == "new"
    headers = {HEADER: key, "content-type": "application/json"}
    return send(env, doc, path, content=body, headers=headers)


def invalid(env: Env, doc: Documented):
    parameters = doc.operation.get("parameters", [])
    if any(p["name"] == "limit" for p in parameters):
        return send(env, doc, url(doc), params={"limit": 0})
    if "requestBody" in doc.operation:
        return send(env, doc, url(doc), json=[])
    if doc.method == "post":  # every POST checks its Idempotency-Key
        return send(env, doc, url(doc), headers={HEADER: "not a key"})
    for parameter in parameters:
        limit = parameter.get("schema", {}).get("maxLength")
        maximum = parameter.get("schema", {}).get("maximum")
        if maximum is not None and parameter["in"] == "path":
            return send(env, doc, url(doc, **{parameter["name"]: str(maximum + 1)}))
        if limit is not None and parameter["in"] == "path":
            return send(env, doc, url(doc, **{parameter["name"]: "x" * (limit + 1)}))
        if limit is not None and parameter["in"] == "query":
            return send(env, doc, url(doc), params={parameter["name"]: "x" * (limit + 1)})
    return None


# --- errors that need a particular state ---------------------------------------------------


def blocked_network(env: Env, doc: Documented):
    with env.database.session(write=True) as session:
        session.add(BlockedIpRange(cidr="203.0.113.0/24", reason="test"))
    with TestClient(create_app(env.settings), client=("203.0.113.50", 5000)) as blocked:
        return blocked.post(SIGN_URL, json=signer())


def closed_petition(env: Env, doc: Documented):
    with env.database.session(write=True) as session:
        session.exec(update(Petition).where(Petition.slug == SLUG).values(status="closed"))
    return env.client.post(SIGN_URL, json=signer())


def no_incident(env: Env, doc: Documented):
    with env.database.session(write=True) as session:
        session.exec(delete(Incident))
    return env.client.get(doc.path)


def no_such_petition(env: Env, doc: Documented):
    return env.client.post("/v1/petitions/no-such-petition/signatures", json=signer())


def signing_paused(env: Env, doc: Documented):
    with env.database.session(write=True) as session:
        session.add(SigningPause(scope=SLUG, reason="test", retry_after_seconds=60))
    return env.client.post(SIGN_URL, json=signer())


def rate_limited(env: Env, doc: Documented):
    limited = env.settings.model_copy(
        update={
            "rate_limit_enabled": True,
            "rate_limit_burst": "1/60",
            "rate_limit_sustained": "1/3600",
            # Signing holds signatures past the allowance; the flood ceiling refuses.
            "rate_limit_requests": "1/60",
            "secret_key": SecretStr(uuid.uuid4().hex),
        }
    )
    body = (
        signer(email=f"{uuid.uuid4().hex[:8]}@example.org")
        if doc.operation_id == "signPetition"
        else {"email": "ana@example.org"}
    )
    with TestClient(create_app(limited)) as client:
        responses = [client.post(url(doc), json=body) for _ in range(3)]
    return responses[-1]


def streams_full(per_client: int, total: int):
    """The live-count stream past its bounds: the slots are taken as open streams would."""

    def call(env: Env, doc: Documented):
        bounded = env.settings.model_copy(
            update={"sse_max_streams_per_client": per_client, "sse_max_streams": total}
        )
        app = create_app(bounded)
        with TestClient(app) as client:
            slots = stream_slots(app.state, bounded)
            while slots.open < min(per_client, total):
                slots.take("testclient")
            return client.get(url(doc))

    return call


def database_down(env: Env, doc: Documented):
    unreachable = env.settings.model_copy(
        update={"database_url": "postgresql+psycopg://postgres@127.0.0.1:9/none"}
    )
    with TestClient(create_app(unreachable)) as client:
        return client.get(doc.path)


UNKNOWN_TOKEN = "unknown-token-" + "x" * 20


def token_body(doc: Documented, token: str) -> dict[str, Any]:
    if doc.operation_id == "withdrawMySignature":
        return {"token": token, "petition_slug": SLUG}
    return {"token": token}


def unknown_link(env: Env, doc: Documented):
    return env.client.post(doc.path, json=token_body(doc, UNKNOWN_TOKEN))


def signature_with_token(env: Env, purpose: str, *, status: str, expired: bool) -> str:
    raw = "raw-token-" + uuid.uuid4().hex
    now = utcnow()
    with env.database.session(write=True) as session:
        petition = session.exec(select(Petition).where(Petition.slug == SLUG)).one()
        signature = Signature(
            petition_id=petition.id, petition_version=1, status=status, country="US"
        )
        session.add(signature)
        session.flush()
        session.add(
            SignatureToken(
                token_hash=token_hash(raw),
                signature_id=signature.id,
                purpose=purpose,
                expires_at=now - dt.timedelta(days=1) if expired else None,
            )
        )
    return raw


def expired_access(env: Env) -> str:
    raw = "raw-token-" + uuid.uuid4().hex
    with env.database.session(write=True) as session:
        session.add(
            AccessToken(
                token_hash=token_hash(raw),
                email_hash="0" * 64,
                expires_at=utcnow() - dt.timedelta(minutes=1),
            )
        )
    return raw


def gone(env: Env, doc: Documented):
    if doc.operation_id == "confirmSignature":
        token = signature_with_token(env, "confirm", status="pending", expired=True)
    elif doc.operation_id == "withdrawSignature":
        token = signature_with_token(env, "withdraw", status="struck", expired=False)
    else:
        token = expired_access(env)
    return env.client.post(doc.path, json=token_body(doc, token))


def admin_call(path: str | None = None, **kwargs: Any):
    """The operation itself, with a key holding every scope: on `path`, or by default on its
    own path naming nothing that exists (`/v1/admin/signatures/999999/strike`)."""

    def call(env: Env, doc: Documented):
        return send(env, doc, path or url(doc, found=False), **kwargs)

    return call


def source_with_anothers_content(env: Env, doc: Documented):
    other = env.client.get("/v1/admin/sources/article-please-let-me-go", headers=env.admin)
    digest = other.json()["content_sha256"]
    path = f"/v1/admin/sources/{QUOTE['source_id']}"
    return send(env, doc, path, json={"content_sha256": digest})


def fact_the_petition_cites(env: Env, doc: Documented):
    body = env.client.get(f"/v1/petitions/{SLUG}").json()["body"]
    fact_id = re.findall(r"\[fact:([^\]]+)\]", body)[0]
    return send(env, doc, f"/v1/admin/facts/{fact_id}")


def only_citation(env: Env, doc: Documented):
    facts = env.client.get("/v1/facts", params={"status": "single_source", "limit": 1}).json()
    fact_id = facts["items"][0]["id"]
    return send(env, doc, f"/v1/admin/facts/{fact_id}/citations/0")


UNKNOWN_PETITION = {"petition": "no-such-petition"}
REASON = {"reason": "Test."}

SPECIAL = {
    ("adminResumeAll", "404"): admin_call(),
    ("adminUpdateSource", "409"): source_with_anothers_content,
    ("adminDeleteSource", "409"): admin_call(f"/v1/admin/sources/{QUOTE['source_id']}"),
    ("adminDeleteFact", "409"): fact_the_petition_cites,
    ("adminDeleteCitation", "409"): only_citation,
    ("adminAddCitation", "404"): admin_call(json=QUOTE),
    ("adminListSignatures", "404"): admin_call(params=UNKNOWN_PETITION),
    ("adminListHeld", "404"): admin_call(params=UNKNOWN_PETITION),
    ("adminStrikeByFilter", "404"): admin_call(json={**REASON, "filter": UNKNOWN_PETITION}),
    ("adminReleaseByFilter", "404"): admin_call(json={**REASON, "filter": UNKNOWN_PETITION}),
    ("adminStrikeSignature", "404"): admin_call(json=REASON),
    ("adminReleaseSignature", "404"): admin_call(json=REASON),
    ("adminUnblockDomain", "404"): admin_call(params={"domain": "spam.example"}),
    ("adminUnblockRange", "404"): admin_call(params={"cidr": "203.0.113.0/24"}),
    ("adminSetPetitionText", "404"): admin_call(
        "/v1/admin/petitions/no-such-petition/text/es",
        json={"title": "Título", "ask": "Pedido.", "target": "Legislatura", "body": "Texto."},
    ),
    ("adminDeletePetitionText", "404"): admin_call("/v1/admin/petitions/no-such-petition/text/es"),
    ("adminDeletePetitionText", "409"): admin_call(f"/v1/admin/petitions/{SLUG}/text/en"),
    ("streamPetitionCount", "429"): streams_full(per_client=1, total=10),
    ("streamPetitionCount", "503"): streams_full(per_client=10, total=1),
    ("getIncident", "404"): no_incident,
    ("signPetition", "404"): no_such_petition,
    ("signPetition", "403"): blocked_network,
    ("signPetition", "409"): closed_petition,
    ("signPetition", "429"): rate_limited,
    ("requestSignatureAccess", "429"): rate_limited,
    ("signPetition", "503"): signing_paused,
    ("getReadiness", "503"): database_down,
    **{
        (op, "404"): unknown_link
        for op in (
            "confirmSignature",
            "withdrawSignature",
            "listMySignatures",
            "withdrawMySignature",
        )
    },
    **{
        (op, "410"): gone
        for op in (
            "confirmSignature",
            "withdrawSignature",
            "listMySignatures",
            "withdrawMySignature",
        )
    },
}


def test_every_documented_problem_type_is_the_one_sent(env: Env) -> None:
    spec = env.client.get("/openapi.json").json()
    provoked, not_provoked, wrong = [], [], []
    for doc in documented_problems(spec):
        assert len(doc.types) == 1, (doc.operation_id, doc.status, doc.types)
        if doc.status in NOT_PROVOKED:
            continue
        response = provoke(env, doc)
        if (doc.operation_id, doc.status) in SPECIAL:  # it changed the state: start again
            env = fresh_env(env.app, env.client, env.database, env.settings)
        where = f"{doc.operation_id} {doc.status}"
        if response is None or str(response.status_code) != doc.status:
            not_provoked.append((where, None if response is None else response.status_code))
            continue
        assert response.headers["content-type"] == PROBLEM, where
        sent = response.json()["type"]
        if sent not in doc.types:
            wrong.append((where, sent, sorted(doc.types)))
        provoked.append(where)
    assert not wrong, wrong
    assert not not_provoked, "\n".join(map(str, not_provoked))
    assert len(provoked) > 200


def test_every_type_the_api_can_send_is_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    sent = {cls.type_uri() for cls in app_error_classes()}
    assert all(t.startswith(PROBLEM_TYPE_PREFIX) for t in sent)
    listed = spec["components"]["schemas"]["Problem"]["properties"]["type"]["description"]
    for problem_type in sent:
        assert f"`{problem_type}`" in listed
    in_examples = set().union(*(doc.types for doc in documented_problems(spec)))
    # 405 belongs to no operation (it answers a method a path does not have).
    assert sent - in_examples == {MethodNotAllowed.type_uri()}
    assert in_examples <= sent


def test_no_example_is_copied_from_another_operation(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for doc in documented_problems(spec):
        response = doc.operation["responses"][doc.status]
        for example in response["content"][PROBLEM]["examples"].values():
            value = example["value"]
            assert value["status"] == int(doc.status)
            if not doc.path.startswith("/v1/facts"):
                assert "fact" not in value["detail"].lower() or is_admin(doc), doc
            if doc.status == "403" and not is_admin(doc):
                assert "scope" not in value["detail"], doc
            if doc.status == "422" and doc.method == "get":
                assert all(e["location"][0] != "body" for e in value["errors"]), doc
            assert value["instance"].startswith("/") and "{" not in value["instance"], doc
    json.dumps(spec)  # serialisable as served
