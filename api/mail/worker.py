"""The mail worker: claims due outbox rows, renders and sends them, records the outcome."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from api import metrics
from api.config import Settings
from api.db import Database
from api.mail import service
from api.mail.backends import FileBackend, MailBackend, SmtpBackend
from api.mail.templates import OutgoingMail, render

logger = logging.getLogger(__name__)

BATCH_SIZE = 100


def backend_for(settings: Settings) -> MailBackend:
    if settings.smtp_url is not None:
        return SmtpBackend(settings.smtp_url.get_secret_value())
    return FileBackend(settings.mail_dir)


class MailWorker:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        backend: MailBackend,
        daily: Callable[[], object] | None = None,
        daily_interval_seconds: float = 24 * 3600,
    ) -> None:
        self.database = database
        self.settings = settings
        self.backend = backend
        self.daily = daily
        self.daily_interval_seconds = daily_interval_seconds
        self._last_daily: float | None = None

    def run_once(self) -> int:
        """Send one batch of due mail; returns how many were sent."""
        with self.database.session(write=True) as session:
            claimed = service.claim_due(session, BATCH_SIZE)
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
            )
            messages.append((mail.id, message))
        results = self.backend.send_batch(messages)
        sent = [mail_id for mail_id, error in results.items() if error is None]
        with self.database.session(write=True) as session:
            service.mark_sent(session, sent)
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

    def drain(self) -> int:
        """Send until nothing is due (for tests and one-shot runs)."""
        total = 0
        while (sent := self.run_once()) > 0:
            total += sent
        return total

    def _maybe_run_daily(self) -> None:
        now = time.monotonic()
        if self.daily is None:
            return
        if self._last_daily is not None and now - self._last_daily < self.daily_interval_seconds:
            return
        self._last_daily = now
        self.daily()

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._maybe_run_daily()
                sent = self.run_once()
            except Exception:  # keep the worker alive; the next round retries
                logger.exception("mail worker round failed")
                sent = 0
            if sent == 0:
                stop.wait(self.settings.mail_poll_seconds)
