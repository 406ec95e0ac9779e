"""The one reminder to unconfirmed signers, sent by the worker's chore over real SMTP: once,
only to the unconfirmed, in their language, with a working confirm link."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import update
from sqlmodel import col

from api.db import Database, utcnow
from api.housekeeping import send_reminders
from api.mail.worker import MailWorker, backend_for
from api.petitions.models import Signature
from tests.admin.helpers import auth, make_key
from tests.admin.test_signatures import signature_id
from tests.conftest import link_in
from tests.petitions.helpers import SIGN_URL, count, signer


def backdate(database: Database, hours: float, *emails: str) -> None:
    with database.session(write=True) as session:
        session.exec(
            update(Signature)
            .where(col(Signature.email).in_(emails))
            .values(created_at=utcnow() - dt.timedelta(hours=hours))
        )


def first_mail(smtp_server, address):
    [message] = smtp_server.to(address)
    return message


def test_one_reminder_only_to_the_unconfirmed(
    client, smtp_server, mail_worker, mail_settings, clean_database
):
    people = {
        "pending@example.org": "en",
        "pendiente@example.org": "es",
        "confirmed@example.org": "en",
        "withdrawn@example.org": "en",
        "struck@example.org": "en",
        "recent@example.org": "en",
        "capped@example.org": "en",
    }
    for email, locale in people.items():
        assert client.post(SIGN_URL, json=signer(email=email, locale=locale)).status_code == 202
    for _ in range(2):  # signing again twice: the 3-mail cap is used up
        client.post(SIGN_URL, json=signer(email="capped@example.org"))
    mail_worker.drain()
    token = link_in(first_mail(smtp_server, "confirmed@example.org"), "/confirm")
    assert client.post("/v1/signatures/confirm", json={"token": token}).status_code == 200
    token = link_in(first_mail(smtp_server, "withdrawn@example.org"), "/withdraw")
    assert client.post("/v1/signatures/withdraw", json={"token": token}).status_code == 200
    struck_id = signature_id(clean_database, "struck@example.org")
    response = client.post(
        f"/v1/admin/signatures/{struck_id}/strike",
        json={"reason": "Bot."},
        headers=auth(make_key(clean_database)),
    )
    assert response.status_code == 200, response.text
    old = [e for e in people if e != "recent@example.org"]
    backdate(clean_database, 49, *old)
    backdate(clean_database, 47, "recent@example.org")
    smtp_server.messages.clear()

    assert send_reminders(clean_database, mail_settings) == 2
    assert mail_worker.drain() == 2
    reminded = sorted(m["To"] for m in smtp_server.messages)
    assert reminded == ["pendiente@example.org", "pending@example.org"]

    english = first_mail(smtp_server, "pending@example.org")
    assert english["Subject"] == (
        "Reminder: please confirm your signature: Set 12 as the minimum age of arrest in Florida"
    )
    spanish = first_mail(smtp_server, "pendiente@example.org")
    assert spanish["Subject"].startswith("Recordatorio: confirme su firma: ")
    assert spanish["Content-Language"] == "es"
    text = spanish.get_body(preferencelist=("plain",)).get_content()
    assert "&lang=es" in text and "único recordatorio" in text

    # Its link confirms, and the signature counts.
    before = count(client)
    token = link_in(english, "/confirm")
    assert client.post("/v1/signatures/confirm", json={"token": token}).json()["status"] == (
        "confirmed"
    )
    assert count(client) == before + 1

    # Never twice: a second run finds nothing, and nothing more is sent.
    assert send_reminders(clean_database, mail_settings) == 0
    assert mail_worker.drain() == 0
    assert len(smtp_server.messages) == 2


def test_concurrent_workers_remind_each_signer_once(
    client, smtp_server, mail_worker, mail_settings, clean_database
):
    emails = [f"slow{i}@example.org" for i in range(12)]
    for email in emails:
        client.post(SIGN_URL, json=signer(email=email))
    mail_worker.drain()
    backdate(clean_database, 72, *emails)
    smtp_server.messages.clear()
    with ThreadPoolExecutor(4) as pool:
        queued = list(pool.map(lambda _: send_reminders(clean_database, mail_settings), range(4)))
    assert sum(queued) == 12
    mail_worker.drain()
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(emails)


def test_reminders_can_be_turned_off(client, mail_worker, mail_settings, clean_database):
    client.post(SIGN_URL, json=signer(email="off@example.org"))
    mail_worker.drain()
    backdate(clean_database, 72, "off@example.org")
    off = mail_settings.model_copy(update={"reminder_after_hours": 0})
    assert send_reminders(clean_database, off) == 0
    # A signer whose first link lapsed a week ago is not written to either.
    backdate(clean_database, 24 * 8, "off@example.org")
    assert send_reminders(clean_database, mail_settings) == 0


def test_the_running_worker_sends_reminders_by_itself(
    client, smtp_server, database, mail_settings, clean_database
):
    """The worker's minutely chore, as `advocacy worker` and `advocacy serve` run it."""
    client.post(SIGN_URL, json=signer(email="later@example.org"))
    backdate(clean_database, 49, "later@example.org")
    worker = MailWorker(
        database,
        mail_settings,
        backend_for(mail_settings),
        frequent=lambda: send_reminders(database, mail_settings),
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while len(smtp_server.to("later@example.org")) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
    subjects = sorted(m["Subject"].strip() for m in smtp_server.to("later@example.org"))
    assert [subject.split(":")[0] for subject in subjects] == [
        "Please confirm your signature",
        "Reminder",
    ]
