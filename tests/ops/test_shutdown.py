"""SIGTERM is a graceful restart: the server answers what it took, streams end with a retry
hint, and the mail worker sends (and records) the batch in hand before it exits."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections import Counter

import httpx

from api.db import Database
from api.mail import service as mail_service
from tests.conftest import SmtpSink
from tests.ops.servers import ADVOCACY, SignLoad, process_env, stored_emails
from tests.petitions.helpers import SLUG
from tests.servers import running_server


def test_sigterm_under_sign_load_loses_no_acknowledged_signature(
    settings, clean_database, tmp_path
):
    env = process_env(settings.database_url, tmp_path)
    with (
        running_server(env, tmp_path / "server.log", workers=2) as server,
        SignLoad(server.url, "sigterm") as load,
    ):
        load.wait_for(40)
        started = time.monotonic()
        exit_code = server.terminate()
        stopped_in = time.monotonic() - started
        load.stop()
    assert exit_code == 0, (tmp_path / "server.log").read_text()[-3000:]
    assert stopped_in < 15
    # Requests cut off by the shutdown never got an answer; none got an error status.
    assert [o for o in load.other if o.isdigit()] == []
    missing = set(load.accepted) - stored_emails(settings.database_url)
    assert not missing, f"{len(missing)} of {len(load.accepted)} acknowledged signatures lost"


def test_sigterm_ends_event_streams_with_a_retry_hint(settings, clean_database, tmp_path):
    env = process_env(settings.database_url, tmp_path)
    with running_server(env, tmp_path / "server.log", workers=1) as server:
        received = b""
        with httpx.stream(
            "GET", f"{server.url}/v1/petitions/{SLUG}/events", timeout=httpx.Timeout(20)
        ) as stream:
            chunks = stream.iter_raw()
            received += next(chunks)  # the count now: the stream is open
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            for chunk in chunks:  # until the server ends the stream
                received += chunk
            ended_in = time.monotonic() - started
        # One process: uvicorn re-raises the SIGTERM once its graceful shutdown is done.
        assert server.process.wait(20) in (0, -signal.SIGTERM)
    assert ended_in < 5, "the stream held the shutdown"  # uvicorn's own limit is 10 s
    assert received.rstrip().endswith(b"retry: 3000"), received


class SlowSink(SmtpSink):
    """The test SMTP server, taking a little time per message so a batch is in flight."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.03)
        return await super().handle_DATA(server, session, envelope)


def test_sigterm_to_a_worker_mid_batch_loses_and_repeats_no_mail(
    settings, clean_database, tmp_path
):
    queued = 150
    addresses = [f"outbox-{i}@example.org" for i in range(queued)]
    database = Database(settings)
    try:
        with database.session(write=True) as session:
            for address in addresses:
                mail_service.enqueue(
                    session,
                    template="access",
                    locale="en",
                    to_address=address,
                    payload={"access_url": "http://127.0.0.1/my-signatures?token=t"},
                )
    finally:
        database.dispose()
    sink = SlowSink()
    sink.start()
    try:
        env = process_env(settings.database_url, tmp_path, SMTP_URL=sink.url)
        with open(tmp_path / "worker.log", "wb") as log:
            worker = subprocess.Popen(
                [str(ADVOCACY), "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while len(sink.messages) < 5:
            assert worker.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0, (tmp_path / "worker.log").read_text()
        delivered_before_restart = len(sink.messages)
        assert delivered_before_restart < queued, "the test stopped no batch midway"
        assert _sent_rows(settings) == delivered_before_restart  # every delivery recorded
        again = subprocess.run(
            [str(ADVOCACY), "worker", "--once"], env=env, capture_output=True, timeout=120
        )
        assert again.returncode == 0, again.stderr
    finally:
        sink.stop()
    recipients = Counter(message["To"] for message in sink.messages)
    assert set(recipients) == set(addresses), "mail lost"
    assert max(recipients.values()) == 1, "mail sent twice"


def _sent_rows(settings) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT count(*) FROM mail_message WHERE status = 'sent'")
            ).scalar_one()
    finally:
        engine.dispose()
