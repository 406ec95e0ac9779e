"""Sign, confirm through the emailed link, be counted, withdraw: over HTTP, with real SMTP."""

from __future__ import annotations

import hashlib
import re

from sqlmodel import select

from api.db import Database
from api.mail.models import MailMessage
from api.petitions.models import Signature
from tests.conftest import link_in
from tests.petitions.helpers import SIGN_URL, SLUG, count, signer
from tests.test_errors import assert_problem


def test_sign_confirm_count_withdraw(client, smtp_server, mail_worker, clean_database: Database):
    assert count(client) == 0
    response = client.post(SIGN_URL, json=signer())
    assert response.status_code == 202
    assert response.json() == {"status": "pending_confirmation"}
    assert count(client) == 0  # pending signatures do not count

    assert mail_worker.drain() == 1
    [message] = smtp_server.to("ana.quintanilla@example.org")
    assert "confirm" in message["Subject"].lower()
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "/confirm?token=" in html.get_content()

    confirmed = client.post("/v1/signatures/confirm", json={"token": link_in(message, "/confirm")})
    assert confirmed.json() == {"status": "confirmed", "petition_slug": SLUG}
    assert count(client) == 1
    assert client.get(f"/v1/petitions/{SLUG}").json()["verified_count"] == 1

    again = client.post("/v1/signatures/confirm", json={"token": link_in(message, "/confirm")})
    assert again.json()["status"] == "already_confirmed"
    assert count(client) == 1

    withdrawn = client.post(
        "/v1/signatures/withdraw", json={"token": link_in(message, "/withdraw")}
    )
    assert withdrawn.json() == {"status": "withdrawn", "petition_slug": SLUG}
    assert count(client) == 0
    twice = client.post("/v1/signatures/withdraw", json={"token": link_in(message, "/withdraw")})
    assert twice.json()["status"] == "already_withdrawn"
    assert count(client) == 0

    with clean_database.session() as session:
        [row] = session.exec(select(Signature)).all()
        assert row.status == "withdrawn"
        # An anonymous record is kept; everything that identifies the signer is gone.
        for erased in (
            "email",
            "email_hash",
            "first_name",
            "last_name",
            "postal_code",
            "comment",
            "ip_hash",
            "county",
        ):
            assert getattr(row, erased) is None, erased
        assert row.state == "FL" and row.withdrawn_at is not None
        for mail in session.exec(select(MailMessage)).all():
            assert mail.to_address is None and mail.payload is None

    # Withdrawn, they may sign again.
    assert client.post(SIGN_URL, json=signer()).status_code == 202


def test_spanish_email(client, smtp_server, mail_worker):
    client.post(SIGN_URL, json=signer(email="lucia@example.org", locale="es"))
    mail_worker.drain()
    [message] = smtp_server.to("lucia@example.org")
    assert message["Subject"].startswith("Confirme su firma")
    assert message["Content-Language"] == "es"
    # The pages the links open speak Spanish too.
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert re.search(r"/confirm\?token=[A-Za-z0-9_-]+&lang=es", text)
    assert re.search(r"/withdraw\?token=[A-Za-z0-9_-]+&lang=es", text)


def test_answer_never_reveals_whether_someone_signed(client, smtp_server, mail_worker):
    new = client.post(SIGN_URL, json=signer())
    pending = client.post(SIGN_URL, json=signer())
    mail_worker.drain()
    first = smtp_server.to("ana.quintanilla@example.org")[0]
    client.post("/v1/signatures/confirm", json={"token": link_in(first, "/confirm")})
    confirmed = client.post(SIGN_URL, json=signer())
    bodies = {(r.status_code, r.content) for r in (new, pending, confirmed)}
    assert len(bodies) == 1
    mail_worker.drain()
    subjects = [m["Subject"] for m in smtp_server.to("ana.quintanilla@example.org")]
    assert len(subjects) == 3
    assert "already signed" in subjects[-1].lower()  # confirmed: "you already signed"
    assert "confirm" in subjects[1].lower()  # pending: a reminder with a fresh link


def test_emails_per_signature_are_capped(client, smtp_server, mail_worker):
    for _ in range(6):
        assert client.post(SIGN_URL, json=signer()).status_code == 202
    mail_worker.drain()
    assert len(smtp_server.to("ana.quintanilla@example.org")) == 3


def test_unknown_and_expired_links(client, smtp_server, mail_worker, clean_database: Database):
    assert_problem(client.post("/v1/signatures/confirm", json={"token": "x" * 43}), 404)
    assert_problem(client.post("/v1/signatures/withdraw", json={"token": "x" * 43}), 404)

    client.post(SIGN_URL, json=signer())
    mail_worker.drain()
    [message] = smtp_server.to("ana.quintanilla@example.org")
    from sqlalchemy import update

    from api.db import utcnow
    from api.petitions.models import SignatureToken

    with clean_database.session(write=True) as session:
        session.exec(update(SignatureToken).values(expires_at=utcnow()))
    body = assert_problem(
        client.post("/v1/signatures/confirm", json={"token": link_in(message, "/confirm")}), 410
    )
    assert "expired" in body["detail"]
    assert count(client) == 0


def test_a_confirm_link_cannot_withdraw(client, smtp_server, mail_worker):
    client.post(SIGN_URL, json=signer())
    mail_worker.drain()
    [message] = smtp_server.to("ana.quintanilla@example.org")
    response = client.post("/v1/signatures/withdraw", json={"token": link_in(message, "/confirm")})
    assert_problem(response, 404)


def test_link_digests_grow_with_time_and_links_mailed_before_still_work(
    client, smtp_server, mail_worker, clean_database: Database
):
    import secrets
    import time

    from api.petitions.models import SignatureToken
    from api.security import token_hash

    client.post(SIGN_URL, json=signer())
    time.sleep(0.003)
    client.post(SIGN_URL, json=signer(email="later@example.org"))
    mail_worker.drain()
    [first] = smtp_server.to("ana.quintanilla@example.org")
    [later] = smtp_server.to("later@example.org")
    first_token, later_token = link_in(first, "/confirm"), link_in(later, "/confirm")
    # The stored digests sort as the tokens were made: new rows go to the end of the index.
    assert token_hash(first_token) < token_hash(later_token)
    with clean_database.session() as session:
        stored = set(session.exec(select(SignatureToken.token_hash)).all())
        assert {token_hash(first_token), token_hash(later_token)} <= stored
        # What is stored is a hash: no stored value holds the token's random part.
        assert not any(first_token[11:22] in digest for digest in stored)
    # The time lead is not a key on its own: a token with another random part is unknown.
    forged = first_token[:11] + secrets.token_urlsafe(32)
    assert_problem(client.post("/v1/signatures/confirm", json={"token": forged}), 404)

    # A link mailed before tokens were led by their time: its whole SHA-256 is stored.
    legacy = secrets.token_urlsafe(32)
    with clean_database.session(write=True) as session:
        signature = session.exec(
            select(Signature).where(Signature.email_hash.is_not(None))  # type: ignore[union-attr]
        ).first()
        assert signature is not None
        session.add(
            SignatureToken(
                token_hash=hashlib.sha256(legacy.encode()).hexdigest(),
                signature_id=signature.id,
                purpose="confirm",
            )
        )
    confirmed = client.post("/v1/signatures/confirm", json={"token": legacy})
    assert confirmed.json() == {"status": "confirmed", "petition_slug": SLUG}


def test_unknown_petition_and_closed_petition(client, clean_database: Database):
    assert_problem(client.post("/v1/petitions/nope/signatures", json=signer()), 404)
    from sqlalchemy import update

    from api.petitions.models import Petition

    with clean_database.session(write=True) as session:
        session.exec(update(Petition).values(status="closed"))
    body = assert_problem(client.post(SIGN_URL, json=signer()), 409)
    assert "closed" in body["detail"]
    with clean_database.session() as session:
        assert session.exec(select(Signature)).all() == []


def test_writing_a_signature_and_its_mail_is_one_transaction(
    client, clean_database: Database, monkeypatch
):
    # Fault injection: the outbox write fails after the signature row was inserted.
    from api.mail import service as mail_service

    def broken_enqueue(*args, **kwargs):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(mail_service, "enqueue", broken_enqueue)
    monkeypatch.setattr(mail_service, "enqueue_rows", broken_enqueue)  # a batch's mails
    from fastapi.testclient import TestClient

    with TestClient(client.app, raise_server_exceptions=False) as failing:
        assert_problem(failing.post(SIGN_URL, json=signer()), 500)
    with clean_database.session() as session:
        assert session.exec(select(Signature)).all() == []
        assert session.exec(select(MailMessage)).all() == []


def test_version_recorded_with_signature(client, clean_database: Database):
    petition = client.get(f"/v1/petitions/{SLUG}").json()
    assert petition["version"]["number"] == 1
    assert len(petition["version"]["content_hash"]) == 64
    client.post(SIGN_URL, json=signer())
    with clean_database.session() as session:
        [row] = session.exec(select(Signature)).all()
        assert row.petition_version == 1


def test_stored_rows_carry_the_models_defaults(client, clean_database: Database):
    # Signing writes its rows with Core inserts that name every column: what they do not set
    # from the request must equal what the table models would have put there.
    import datetime as dt

    from api.petitions.models import SignatureToken

    assert client.post(SIGN_URL, json=signer()).status_code == 202
    with clean_database.session() as session:
        [signature] = session.exec(select(Signature)).all()
        tokens = session.exec(select(SignatureToken)).all()
        [mail] = session.exec(select(MailMessage)).all()

    def assert_declared_defaults(row, set_by_signing: set[str]) -> None:
        for name, field in type(row).model_fields.items():
            if name in set_by_signing or name == "id":
                continue
            if field.default_factory is not None:  # timestamps: set at insert time
                assert getattr(row, name) is not None, name
            else:
                assert getattr(row, name) == field.default, name

    assert_declared_defaults(
        signature,
        {"petition_id", "petition_version", "status", "email_hash", "email", "first_name"}
        | {"last_name", "postal_code", "comment", "ip_hash", "county", "country", "state"}
        | {"display_publicly", "contact_opt_in", "locale", "emails_sent"},
    )
    assert signature.status == "pending" and signature.emails_sent == 1
    assert {token.purpose for token in tokens} == {"confirm", "withdraw"}
    for token in tokens:
        assert token.signature_id == signature.id
        assert_declared_defaults(token, {"token_hash", "signature_id", "purpose", "expires_at"})
        if token.purpose == "confirm":
            lifetime = token.expires_at - token.created_at
            assert abs(lifetime - dt.timedelta(days=7)) < dt.timedelta(seconds=1)
        else:
            assert token.expires_at is None
    assert_declared_defaults(
        mail, {"template", "locale", "to_address", "payload", "signature_id", "recipient_hash"}
    )
    assert (mail.template, mail.signature_id) == ("confirm", signature.id)
    assert abs(mail.next_attempt_at - mail.created_at) < dt.timedelta(seconds=1)  # due now


def test_signing_through_a_bare_database_reads_the_block_lists_directly(
    settings, clean_database: Database
):
    # Regression: with the caches in a registry, a Database built without the app's caches (as
    # a command or the mail worker builds one) had no `blocklists` cache, and signing raised
    # KeyError instead of reading the lists.
    from api.petitions import signing
    from api.petitions.schemas import SignatureCreate

    bare = Database(settings)
    try:
        context = signing.SigningContext(
            secret=settings.secret(), public_base_url="http://test", client_ip="203.0.113.9"
        )
        with bare.session(write=True) as session:
            signing.sign(session, SLUG, SignatureCreate.model_validate(signer()), context)
    finally:
        bare.dispose()
    with clean_database.session() as session:
        assert len(session.exec(select(Signature)).all()) == 1


def test_each_mail_names_the_petition_as_signed_in_the_signers_language(
    client, clean_database: Database
):
    # Signing reads the title by the text's content hash (api.petitions.taking): an edit makes
    # a new version, and the mails of signatures taken after it carry the new title.
    from api.petitions.catalog import petition_by_slug, update_petition

    english = client.get(f"/v1/petitions/{SLUG}", params={"lang": "en"}).json()["title"]
    spanish = client.get(f"/v1/petitions/{SLUG}", params={"lang": "es"}).json()["title"]
    assert english != spanish
    for address, locale in (("en1@example.org", "en"), ("es1@example.org", "es")):
        assert client.post(SIGN_URL, json=signer(email=address, locale=locale)).status_code == 202
    with clean_database.session(write=True) as session:
        update_petition(session, petition_by_slug(session, SLUG), {"title": "Twelve, not six"})
    for address, locale in (("en2@example.org", "en"), ("es2@example.org", "es")):
        assert client.post(SIGN_URL, json=signer(email=address, locale=locale)).status_code == 202

    with clean_database.session() as session:
        titles = {
            m.to_address: m.payload["petition_title"] for m in session.exec(select(MailMessage))
        }
        versions = {s.email: s.petition_version for s in session.exec(select(Signature))}
    assert titles == {
        "en1@example.org": english,
        "es1@example.org": spanish,
        "en2@example.org": "Twelve, not six",
        "es2@example.org": spanish,  # the Spanish text was not edited
    }
    assert versions == {
        "en1@example.org": 1,
        "es1@example.org": 1,
        "en2@example.org": 2,
        "es2@example.org": 2,
    }
