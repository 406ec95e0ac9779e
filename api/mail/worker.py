"""The mail worker: claims due outbox rows, renders and sends them, records the outcome."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr

from api import metrics
from api.config import Settings
from api.db import Database
from api.mail import service
from api.mail.backends import FileBackend, MailBackend, SmtpBackend
from api.mail.ledger import SentLedger
from api.mail.templates import OutgoingMail, render
from api.petitions.selfservice import prepare_claimed_mail

logger = logging.getLogger(__name__)

BATCH_SIZE = 100


def _address_domain(sender: str) -> str:
    """The sender's domain names the Message-IDs, as RFC 5322 suggests."""
    domain = parseaddr(sender)[1].rpartition("@")[2]
    return domain.encode("idna").decode("ascii") if domain else "localhost"


def backend_for(settings: Settings) -> MailBackend:
    if settings.smtp_url is not None:
        return SmtpBackend(settings.smtp_url.get_secret_value())
    return FileBackend(settings.mail_dir)


@dataclass
class Chore:
    """Work the worker does between batches of mail, at most once per interval."""

    run: Callable[[], object]
    interval_seconds: float
    last_run: float | None = None

    def run_if_due(self, now: float) -> None:
        if self.last_run is not None and now - self.last_run < self.interval_seconds:
            return
        self.last_run = now
        self.run()


class MailWorker:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        backend: MailBackend,
        daily: Callable[[], object] | None = None,
        daily_interval_seconds: float = 24 * 3600,
        frequent: Callable[[], object] | None = None,
        frequent_interval_seconds: float = 60,
    ) -> None:
        self.database = database
        self.settings = settings
        self.backend = backend
        self.chores = [
            Chore(run, interval)
            for run, interval in (
                (daily, daily_interval_seconds),
                (frequent, frequent_interval_seconds),
            )
            if run is not None
        ]
        self.lease = dt.timedelta(seconds=settings.mail_lease_seconds)
        self.secret = settings.secret()
        self.message_id_domain = _address_domain(settings.mail_from)

    def run_once(self) -> int:
        """Send one batch of due mail; returns how many were sent.

        Each message is recorded "sent" as soon as the server accepts it (see api.mail.ledger),
        so a crash at any point re-sends at most the messages that were on the wire, with
        their same Message-ID.
        """
        with self.database.session(write=True) as session:
            claimed = service.claim_due(session, BATCH_SIZE, self.lease)
            claimed = prepare_claimed_mail(session, claimed, self.settings.public_base_url)
        if not claimed:
            return 0
        log_links = isinstance(self.backend, FileBackend)
        messages: list[tuple[int, OutgoingMail]] = []
        for mail in claimed:
            links = [v for k, v in mail.payload.items() if k.endswith("_url")] if log_links else []
            message = render(
                mail.template,
                mail.locale,
                mail.payload,
                sender=self.settings.mail_from,
                to=mail.to_address,
                links=links,
                message_id=service.message_id(self.secret, mail, self.message_id_domain),
            )
            messages.append((mail.id, message))
        ledger = SentLedger(self._record_sent)
        try:
            results = self.backend.send_batch(messages, ledger)
        finally:
            ledger.close()
        sent = [mail_id for mail_id, error in results.items() if error is None]
        with self.database.session(write=True) as session:
            # Accepted but not yet recorded (the ledger's commit failed): try once more; if
            # this fails too, they stay leased and are sent again, same Message-ID, after it.
            service.mark_sent(session, ledger.unrecorded())
            for mail in claimed:
                error = results.get(mail.id, "not attempted")
                if error is not None:
                    service.mark_failed(session, mail, error)
        failed = len(claimed) - len(sent)
        metrics.MAIL.labels("sent").inc(len(sent))
        metrics.MAIL.labels("failed").inc(failed)
        if failed:
            logger.warning("mail: %d sent, %d will be retried", len(sent), failed)
        return len(sent)

    def _record_sent(self, mail_ids: list[int]) -> None:
        # Without waiting for the disk: what must survive is a crash of this worker, which
        # these commits do; a power cut that lost one would re-send its messages with their
        # same Message-IDs. An fsync per group cost about a third of the throughput.
        with self.database.process_durable_session() as session:
            service.mark_sent(session, mail_ids)

    def drain(self) -> int:
        """Send until nothing is due (for tests and one-shot runs)."""
        total = 0
        while (sent := self.run_once()) > 0:
            total += sent
        return total

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                for chore in self.chores:
                    chore.run_if_due(time.monotonic())
                sent = self.run_once()
            except Exception as exc:  # keep the worker alive; the next round retries
                if self.database.availability.failure_of(exc):
                    self.database.availability.failed(exc)  # one line per outage
                else:
                    logger.exception("mail worker round failed")
                sent = 0
            if sent == 0:
                stop.wait(self.settings.mail_poll_seconds)
