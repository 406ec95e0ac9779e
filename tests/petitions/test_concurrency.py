"""Concurrent signing, and mail delivery that survives an SMTP outage and several workers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlmodel import col, delete, func, select

from api.db import Database
from api.mail.models import MailMessage
from api.mail.worker import MailWorker, backend_for
from api.petitions.models import Signature
from api.petitions.router import recipient_limit
from api.petitions.schemas import SignatureCreate
from api.petitions.signing import SigningContext, SignRequest, sign_many
from tests.databases import statements_sent
from tests.petitions.helpers import SIGN_URL, SLUG, signer


def test_fifty_concurrent_signs_with_one_gmail_address(
    client, smtp_server, mail_worker, clean_database: Database
):
    variants = [
        "Jo.Doe@gmail.com",
        "jodoe@gmail.com",
        "j.o.d.o.e@googlemail.com",
        "JODOE+petition@gmail.com",
        "jo.doe+x@GMAIL.COM",
    ]
    bodies = [signer(email=variants[i % len(variants)]) for i in range(50)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda b: client.post(SIGN_URL, json=b).status_code, bodies))
    assert statuses == [202] * 50
    with clean_database.session() as session:
        assert session.exec(select(func.count()).select_from(Signature)).one() == 1
    mail_worker.drain()
    assert 1 <= len(smtp_server.messages) <= 3


def test_smtp_down_then_up_every_mail_arrives_once(
    client, smtp_server, mail_worker, clean_database: Database
):
    smtp_server.stop()
    addresses = [f"signer{i}@example.org" for i in range(5)]
    for address in addresses:
        assert client.post(SIGN_URL, json=signer(email=address)).status_code == 202
    assert mail_worker.run_once() == 0  # server down: nothing sent, nothing lost
    with clean_database.session() as session:
        pending = session.exec(select(MailMessage).where(MailMessage.status == "pending")).all()
        assert len(pending) == 5 and all(m.attempts == 1 for m in pending)

    smtp_server.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(smtp_server.messages) < 5:
        mail_worker.run_once()
        time.sleep(0.2)
    for address in addresses:
        assert len(smtp_server.to(address)) == 1, address
    assert mail_worker.drain() == 0
    assert len(smtp_server.messages) == 5


def test_two_workers_never_send_the_same_mail(
    client, smtp_server, mail_settings, clean_database: Database
):
    addresses = [f"worker{i}@example.org" for i in range(30)]
    for address in addresses:
        client.post(SIGN_URL, json=signer(email=address))
    workers = [
        MailWorker(clean_database, mail_settings, backend_for(mail_settings)) for _ in range(2)
    ]
    start = threading.Barrier(2)

    def drain(worker: MailWorker) -> int:
        start.wait()
        total = 0
        while (sent := worker.run_once()) > 0:
            total += sent
        return total

    with ThreadPoolExecutor(max_workers=2) as pool:
        sent = sum(pool.map(drain, workers))
    assert sent == 30
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(addresses)


def test_concurrent_confirmations_of_one_link_count_once(
    client, smtp_server, mail_worker, clean_database: Database
):
    from tests.conftest import link_in
    from tests.petitions.helpers import count

    assert client.post(SIGN_URL, json=signer()).status_code == 202
    mail_worker.drain()
    [message] = smtp_server.to("ana.quintanilla@example.org")
    token = link_in(message, "/confirm")
    # Group commit puts several of these in one transaction: each must see the others' write.
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(
                lambda _: client.post("/v1/signatures/confirm", json={"token": token}).json(),
                range(16),
            )
        )
    assert sorted(a["status"] for a in answers) == ["already_confirmed"] * 15 + ["confirmed"]
    assert count(client) == 1


def test_confirmations_written_together_each_get_their_own_outcome(
    client, smtp_server, mail_worker, clean_database: Database
):
    """What group commit does with confirmations that arrive together: one batch, and each
    link answered as if alone (new, repeat in the same batch, unknown)."""
    from api.errors import NotFound
    from api.petitions.confirmation import confirm_many
    from api.petitions.schemas import ConfirmResult
    from tests.conftest import link_in
    from tests.petitions.helpers import count

    emails = [f"batch.{i}@example.org" for i in range(3)]
    for email in emails:
        assert client.post(SIGN_URL, json=signer(email=email)).status_code == 202
    mail_worker.drain()
    tokens = [link_in(smtp_server.to(email)[0], "/confirm") for email in emails]
    batch = [tokens[0], tokens[1], tokens[0], "not-a-token-at-all", tokens[2]]
    with clean_database.session(write=True) as session:
        outcomes = confirm_many(session, batch)
    assert [o.status if isinstance(o, ConfirmResult) else type(o) for o in outcomes] == [
        "confirmed",
        "confirmed",
        "already_confirmed",
        NotFound,
        "confirmed",
    ]
    assert count(client) == 3
    again = client.post("/v1/signatures/confirm", json={"token": tokens[1]}).json()
    assert again["status"] == "already_confirmed"


def test_signatures_written_together_each_get_their_own_row_and_links(
    client, smtp_server, mail_worker, clean_database: Database
):
    """What group commit does with signatures that arrive together: one statement for the
    batch's rows, and each request answered as if alone: a new signer gets a row and a
    confirmation mail whose link confirms that row; an address that signed before, or earlier
    in the same batch, gets a reminder for its own row, never a second row."""
    from tests.conftest import link_in

    assert client.post(SIGN_URL, json=signer(email="earlier@example.org")).status_code == 202

    def request(email: str, first_name: str) -> SignRequest:
        return _sign_request(client, email, first_name=first_name)

    for batch in (
        # every row new: the ids the batch writes are its own
        [request(f"fresh.{i}@example.org", f"Fresh{i}") for i in range(3)],
        # some rows skipped: the ids of those written are read back
        [
            request("new.a@example.org", "NewA"),
            request("earlier@example.org", "Earlier"),
            request("new.b@example.org", "NewB"),
            request("New.A@example.org", "NewA"),
            request("new.c@example.org", "NewC"),
        ],
    ):
        with clean_database.session(write=True) as session:
            assert sign_many(session, batch) == [None] * len(batch)
    mail_worker.drain()

    with clean_database.session() as session:
        rows = session.exec(
            select(Signature.email, Signature.first_name, Signature.emails_sent)
        ).all()
    # emails_sent: 1 for a new row, 2 for one that was also sent a reminder
    assert sorted(rows) == sorted(
        [("earlier@example.org", "Ana", 2)]
        + [(f"fresh.{i}@example.org", f"Fresh{i}", 1) for i in range(3)]
        + [("new.a@example.org", "NewA", 2)]
        + [(f"new.{x}@example.org", f"New{x.upper()}", 1) for x in "bc"]
    )
    assert len(smtp_server.to("earlier@example.org")) == 2  # its confirmation, a reminder
    assert len(smtp_server.to("new.a@example.org")) == 2  # its confirmation, a reminder
    confirmed: set[str | None] = set()
    for email in [f"fresh.{i}@example.org" for i in range(3)] + [
        "new.b@example.org",
        "new.c@example.org",
    ]:
        [message] = smtp_server.to(email)
        token = link_in(message, "/confirm")
        answer = client.post("/v1/signatures/confirm", json={"token": token}).json()
        assert answer["status"] == "confirmed"
        with clean_database.session() as session:
            now_confirmed = set(
                session.exec(
                    select(Signature.email).where(col(Signature.confirmed_at).is_not(None))
                ).all()
            )
        assert now_confirmed - confirmed == {email}  # the link confirmed its own signer
        confirmed = now_confirmed


def test_a_batch_of_new_signers_knows_its_ids_without_reading_them(
    client, clean_database: Database
):
    """On SQLite the ids of a batch's new rows follow from the insert itself (they are
    consecutive, ending at the last row written): no statement reads them, not even the
    largest id before. Each row's mail and links still carry its own id, also after the row
    with the largest id was deleted (the next row may take that id again)."""
    from api.petitions.models import SignatureToken

    def batch(prefix: str) -> list[SignRequest]:
        return [_sign_request(client, f"{prefix}.{i}@example.org") for i in range(4)]

    with statements_sent(clean_database) as sent:
        with clean_database.session(write=True) as session:
            assert sign_many(session, batch("first")) == [None] * 4
        with clean_database.session(write=True) as session:
            last = session.exec(select(func.max(Signature.id))).one()
            session.exec(delete(Signature).where(col(Signature.id) == last))
        sent.clear()
        with clean_database.session(write=True) as session:
            assert sign_many(session, batch("again")) == [None] * 4

    if clean_database.is_sqlite:
        assert [s for s in sent if s.startswith("select") and " from signature" in s] == []
    with clean_database.session() as session:
        rows = session.exec(select(Signature.id, Signature.email)).all()
        email_of = dict(rows)
        assert len(email_of) == 7
        mails = session.exec(
            select(MailMessage.signature_id, MailMessage.to_address).where(
                col(MailMessage.signature_id).is_not(None)  # the deleted row's mail: NULL
            )
        ).all()
        assert sorted(to for _, to in mails) == sorted(email_of.values())
        for signature_id, to_address in mails:
            assert email_of[signature_id] == to_address
        tokens = session.exec(select(SignatureToken.signature_id)).all()
        assert sorted(tokens) == sorted([*email_of] * 2)


def test_a_signing_batch_reads_the_mail_cap_with_its_petition(client, clean_database: Database):
    """The per-recipient cap's counts come with the petition, in its one query (one statement
    fewer inside SQLite's write lock, one round trip fewer on PostgreSQL), and still hold: an
    address at its cap is signed but sent nothing, the others get their confirmation."""
    from api.mail import service as mail

    capped, fresh = "capped@example.org", ["fresh.1@example.org", "fresh.2@example.org"]
    requests = [_sign_request(client, email) for email in [fresh[0], capped, fresh[1]]]
    limit = requests[0].context.recipient_limit
    assert limit is not None
    with clean_database.session(write=True) as session:
        for _ in range(limit.mails):  # the capped address's earlier mails (access links, say)
            mail.enqueue(
                session,
                template="access",
                locale="en",
                to_address=capped,
                payload={},
                recipient_hash=requests[1].email_hash,
            )

    with statements_sent(clean_database) as sent, clean_database.session(write=True) as session:
        assert sign_many(session, requests) == [None] * 3

    reads_of_mail = [s for s in sent if s.startswith("select") and "mail_message" in s]
    assert len(reads_of_mail) == 1 and " from petition" in reads_of_mail[0], sent
    with clean_database.session() as session:
        signed = session.exec(select(Signature.email)).all()
        assert sorted(signed) == sorted([capped, *fresh])
        confirmations = session.exec(
            select(MailMessage.to_address).where(MailMessage.template == "confirm")
        ).all()
        assert sorted(confirmations) == sorted(fresh)


def test_a_signing_batch_reads_its_petition_with_one_statement_text(
    client, clean_database: Database
):
    """The petition's query (with the mail cap's counts for every signer of the batch) is the
    same text whatever the number of signers: their addresses' hashes are one parameter.
    Fails with an expanding IN, written out again with a placeholder per signer for every
    batch (inside SQLite's write lock) and a statement of its own to the driver for each
    size."""
    texts = set()
    for size in (1, 3, 7):
        requests = [_sign_request(client, f"size{size}.{n}@example.org") for n in range(size)]
        with (
            statements_sent(clean_database) as sent,
            clean_database.session(write=True) as session,
        ):
            assert sign_many(session, requests) == [None] * size
        (petition_query,) = [
            statement
            for statement in sent
            if statement.startswith("select") and "mail_message" in statement
        ]
        texts.add(petition_query)
    assert len(texts) == 1, texts


def _sign_request(client, email: str, **fields: str) -> SignRequest:  # type: ignore[no-untyped-def]
    """A request to sign as the app makes it (its secret, its links, the mail cap), for
    `sign_many` called directly: the signatures of one group-commit batch."""
    settings = client.app.state.settings
    context = SigningContext(
        secret=settings.secret(),
        public_base_url=settings.public_base_url,
        client_ip="203.0.113.9",
        recipient_limit=recipient_limit(settings.mail_recipient_limit),
    )
    data = SignatureCreate.model_validate(signer(email=email, **fields))
    return SignRequest.of(SLUG, data, context)
