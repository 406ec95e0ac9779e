"""Mail under faults, with real processes: a real `advocacy worker` killed with SIGKILL in the
middle of a batch, an SMTP server down then up, and (SQLite, where the machine lets us mount
one) a disk that fills right after the server accepted a message.

Each asserts: every message delivered; none twice, except at most one per SMTP session (the
one on the wire when the fault struck), whose copies carry one Message-ID so mail systems
fold them. Runs on SQLite, or PostgreSQL with TEST_DATABASE_URL, like the rest of the suite.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from api.config import Settings
from api.db import Database
from api.mail import service
from api.mail.models import MailMessage
from api.migrate import upgrade
from tests.conftest import SmtpSink
from tests.mail.test_messages import PAYLOAD

pytestmark = pytest.mark.faults

CONNECTIONS = 4  # SMTP sessions per worker: the most messages that can be on the wire
WORKER = Path(sys.executable).with_name("advocacy")


class SlowSink(SmtpSink):
    """Keeps each message as soon as it has its data (as a real server may deliver it even if
    the client never reads the reply), then takes `delay` seconds to answer 250: a kill then
    catches messages on the wire. `on_message(n)` runs for the n-th message."""

    def __init__(self, delay: float, on_message: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self.delay = delay
        self.on_message = on_message

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        if self.on_message is not None:
            self.on_message(len(self.messages))
        await asyncio.sleep(self.delay)
        return reply

    def by_recipient(self) -> dict[str, list[str]]:
        copies: dict[str, list[str]] = defaultdict(list)
        with self._lock:
            for message in self.messages:
                copies[str(message["To"])].append(str(message["Message-ID"]))
        return copies


def queue(database: Database, addresses: list[str]) -> None:
    with database.session(write=True) as session:
        for address in addresses:
            service.enqueue(
                session, template="confirm", locale="en", to_address=address, payload=PAYLOAD
            )


def start_worker(
    settings: Settings, database_url: str, smtp_url: str, log: Path
) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": settings.secret().decode(),
        "SMTP_URL": f"{smtp_url}&connections={CONNECTIONS}",
        "MAIL_LEASE_SECONDS": "2",
        "MAIL_POLL_SECONDS": "0.1",
        "VAR_DIR": str(log.parent),
        "ENVIRONMENT": "test",
    }
    with log.open("ab") as output:
        return subprocess.Popen(
            [str(WORKER), "worker"], env=env, stdout=output, stderr=subprocess.STDOUT
        )


def stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def assert_delivered_once(sink: SlowSink, addresses: list[str], database: Database) -> None:
    copies = sink.by_recipient()
    assert sorted(copies) == sorted(addresses), "a message was lost"
    repeated = {to: ids for to, ids in copies.items() if len(ids) > 1}
    assert len(repeated) <= CONNECTIONS, f"{len(repeated)} messages delivered more than once"
    for ids in repeated.values():
        assert len(set(ids)) == 1, "a re-send must carry the first one's Message-ID"
    with database.session() as session:
        assert set(session.exec(select(MailMessage.status)).all()) == {"sent"}


@pytest.fixture
def sink_factory() -> Iterator[Callable[..., SlowSink]]:
    sinks: list[SlowSink] = []

    def make(delay: float = 0.01, on_message: Callable[[int], None] | None = None) -> SlowSink:
        sink = SlowSink(delay, on_message)
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.stop()


def test_a_worker_killed_mid_batch_resends_only_what_was_on_the_wire(
    clean_database: Database, settings: Settings, database_url: str, sink_factory, tmp_path
) -> None:
    sink = sink_factory(delay=0.02)
    sink.start()
    addresses = [f"kill{i}@example.org" for i in range(120)]
    queue(clean_database, addresses)
    worker = start_worker(settings, database_url, sink.url, tmp_path / "worker.log")
    try:
        assert wait_until(lambda: len(sink.messages) >= 30, 20), "the worker sent nothing"
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        at_kill = len(sink.messages)
        assert at_kill < len(addresses)  # killed mid-batch
        worker = start_worker(settings, database_url, sink.url, tmp_path / "worker.log")
        wait_until(lambda: set(sink.by_recipient()) == set(addresses), 30)
        wait_until(lambda: False, 0.5)  # let its last records commit
    finally:
        stop(worker)
    assert_delivered_once(sink, addresses, clean_database)


def test_smtp_down_then_up_loses_nothing_and_sends_nothing_twice(
    clean_database: Database, settings: Settings, database_url: str, sink_factory, tmp_path
) -> None:
    sink = sink_factory(delay=0)  # not started: the server is down
    addresses = [f"down{i}@example.org" for i in range(30)]
    queue(clean_database, addresses)
    worker = start_worker(settings, database_url, sink.url, tmp_path / "worker.log")
    try:

        def tried() -> bool:  # the worker tried, failed to connect, and backs off
            with clean_database.session() as session:
                return min(session.exec(select(MailMessage.attempts)).all()) >= 1

        assert wait_until(tried, 15) and sink.messages == []
        sink.start()
        wait_until(lambda: set(sink.by_recipient()) == set(addresses), 20)
        wait_until(lambda: False, 0.5)
    finally:
        stop(worker)
    copies = sink.by_recipient()
    assert sorted(copies) == sorted(addresses)
    assert all(len(ids) == 1 for ids in copies.values())


@pytest.fixture
def small_disk(database: Database, tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs of our own for a SQLite database, if this machine lets us mount one."""
    if not database.is_sqlite:
        pytest.skip("on PostgreSQL the database's disk is the server's, not ours")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small filesystem here (needs root)")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_a_disk_full_after_the_server_accepted_resends_only_what_was_on_the_wire(
    settings: Settings, sink_factory, small_disk: Path, tmp_path
) -> None:
    url = f"sqlite:///{small_disk / 'advocacy.db'}"
    upgrade(url)
    database = Database(settings.model_copy(update={"database_url": url}))
    filled = []

    def fill_after_ten(n: int) -> None:
        if n == 10 and not filled:
            filled.append(fill(small_disk))

    sink = sink_factory(delay=0.01, on_message=fill_after_ten)
    sink.start()
    addresses = [f"full{i}@example.org" for i in range(60)]
    queue(database, addresses)
    worker = start_worker(settings, url, sink.url, tmp_path / "worker.log")
    try:
        assert wait_until(lambda: bool(filled), 20), "the worker sent nothing"
        time.sleep(1.0)  # the worker meets the full disk
        filled[0].unlink()
        wait_until(lambda: set(sink.by_recipient()) == set(addresses), 30)
        wait_until(lambda: False, 0.5)
    finally:
        stop(worker)
    try:
        assert_delivered_once(sink, addresses, database)
    finally:
        database.dispose()
