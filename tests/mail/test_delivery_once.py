"""Mail at most once: each message is recorded "sent" before its session sends the next one,
carries a Message-ID fixed by its outbox row, and the .eml backend never writes a file twice.

(The same against a real worker process killed with SIGKILL: tests/faults/test_mail_faults.py.)
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from pydantic import SecretStr
from sqlalchemy import update
from sqlmodel import select

from api.db import Database, utcnow
from api.mail import backends
from api.mail.models import MailMessage
from api.mail.worker import MailWorker, backend_for
from tests.conftest import SmtpSink
from tests.mail.test_messages import PAYLOAD, enqueue

MESSAGE_ID = re.compile(r"<outbox-(\d+)\.[0-9a-f]{20}@localhost>")


class RefuseFirstDataSink(SmtpSink):
    """Answers the first DATA with 451 (try again later), after reading it."""

    def __init__(self) -> None:
        super().__init__()
        self.refused_message_ids: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        if not self.refused_message_ids:
            message_id = re.search(rb"Message-ID: (\S+)", envelope.content)
            assert message_id is not None
            self.refused_message_ids.append(message_id.group(1).decode())
            return "451 try again later"
        return await super().handle_DATA(server, session, envelope)


def make_due(database: Database) -> None:
    with database.session(write=True) as session:
        session.exec(update(MailMessage).values(next_attempt_at=utcnow(), lease_until=None))


def test_a_message_keeps_its_message_id_from_attempt_to_attempt(
    clean_database: Database, settings
) -> None:
    sink = RefuseFirstDataSink()
    sink.start()
    try:
        smtp_settings = settings.model_copy(update={"smtp_url": SecretStr(sink.url)})
        worker = MailWorker(clean_database, smtp_settings, backend_for(smtp_settings))
        enqueue(clean_database, "lucia@example.org")
        assert worker.run_once() == 0
        make_due(clean_database)
        assert worker.drain() == 1
    finally:
        sink.stop()
    [received] = sink.messages
    [first_try] = sink.refused_message_ids
    assert received["Message-ID"] == first_try
    match = MESSAGE_ID.fullmatch(first_try)
    assert match is not None
    with clean_database.session() as session:
        [row] = session.exec(select(MailMessage)).all()
    assert int(match.group(1)) == row.id


class LockingSink(SmtpSink):
    """On the first message it accepts, another transaction takes the outbox rows' write locks
    and holds them until released: the worker's "sent" records cannot commit meanwhile."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self.database = database
        self.locked = threading.Event()
        self.release = threading.Event()
        self.accepted_while_locked = 0
        self._locker: threading.Thread | None = None

    def _hold_lock(self) -> None:
        with self.database.session(write=True) as session:
            session.exec(update(MailMessage).values(attempts=MailMessage.attempts))
            session.flush()
            self.locked.set()
            self.release.wait(30)

    async def handle_DATA(self, server, session, envelope):
        if self._locker is None:
            self._locker = threading.Thread(target=self._hold_lock)
            self._locker.start()
            self.locked.wait(10)
        if not self.release.is_set():
            self.accepted_while_locked += 1
        return await super().handle_DATA(server, session, envelope)


def test_a_session_sends_nothing_more_until_its_last_message_is_recorded(
    clean_database: Database, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While "sent" cannot be recorded, each SMTP session stops after the one message it has on
    the wire: a crash then could re-send at most those. Once the records commit, the rest is
    sent, each message exactly once."""
    monkeypatch.setattr(backends, "RECORD_TIMEOUT_SECONDS", 1.0, raising=False)
    sink = LockingSink(clean_database)
    sink.start()
    try:
        url = sink.url + "&connections=3"
        smtp_settings = settings.model_copy(update={"smtp_url": SecretStr(url)})
        worker = MailWorker(clean_database, smtp_settings, backend_for(smtp_settings))
        addresses = [f"once{i}@example.org" for i in range(12)]
        for address in addresses:
            enqueue(clean_database, address, locale="en")
        run = threading.Thread(target=worker.run_once)
        run.start()
        deadline = time.monotonic() + 20
        while run.is_alive() and time.monotonic() < deadline:
            if sink.locked.is_set() and len(sink.messages) >= 3:
                time.sleep(1.5)  # past RECORD_TIMEOUT_SECONDS: the sessions gave up waiting
                break
            time.sleep(0.05)
        on_the_wire = sink.accepted_while_locked
        sink.release.set()
        run.join(30)
        assert not run.is_alive()
        assert on_the_wire == 3  # one per session, not the whole batch

        make_due(clean_database)
        worker.drain()
    finally:
        sink.release.set()
        sink.stop()
    assert sorted(m["To"] for m in sink.messages) == sorted(addresses)
    assert len({m["Message-ID"] for m in sink.messages}) == len(addresses)
    with clean_database.session() as session:
        statuses = session.exec(select(MailMessage.status)).all()
    assert set(statuses) == {"sent"}


def test_the_file_backend_never_writes_a_message_twice(
    clean_database: Database, settings, tmp_path, caplog
) -> None:
    file_settings = settings.model_copy(update={"mail_dir": tmp_path})
    worker = MailWorker(clean_database, file_settings, backend_for(file_settings))
    enqueue(clean_database, "lucia@example.org")
    assert worker.drain() == 1
    [path] = tmp_path.glob("*.eml")
    first = path.read_bytes()

    # As after a crash between writing the file and recording it: the row is due again.
    with clean_database.session(write=True) as session:
        session.exec(
            update(MailMessage).values(
                status="pending", to_address="lucia@example.org", payload=PAYLOAD
            )
        )
    make_due(clean_database)
    with caplog.at_level("WARNING", logger="api.mail.backends"):
        assert worker.drain() == 1
    assert path.read_bytes() == first
    assert "already written" in caplog.text
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no partial files left
    with clean_database.session() as session:
        [row] = session.exec(select(MailMessage)).all()
    assert row.status == "sent" and row.to_address is None


def test_only_the_ledgers_commits_skip_the_fsync(settings) -> None:
    """The ledger's commits need only survive a crash of the worker; every other write keeps
    full durability, on the same pooled connection too."""
    database = Database(settings.model_copy(update={"db_pool_size": 1}))
    setting = "PRAGMA synchronous" if database.is_sqlite else "SHOW synchronous_commit"
    relaxed, full = ("1", "2") if database.is_sqlite else ("off", "on")
    try:
        with database.process_durable_session() as session:
            assert str(session.connection().exec_driver_sql(setting).scalar()) == relaxed
        for _ in range(2):
            with database.session(write=True) as session:
                assert str(session.connection().exec_driver_sql(setting).scalar()) == full
    finally:
        database.dispose()
