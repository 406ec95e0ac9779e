"""Where mail goes: an SMTP server (SMTP_URL), or .eml files under MAIL_DIR."""

from __future__ import annotations

import contextlib
import logging
import os
import smtplib
import ssl
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from api.mail.ledger import Receipt, SentLedger
from api.mail.templates import OutgoingMail

logger = logging.getLogger(__name__)

# Sessions per batch. On the bench's local sink (2 cores), 10 s drains alternating 8 and 4
# sessions: PostgreSQL 735/686/710 against 587/659/633 mails/s, where each session also
# waits for its ledger commits; SQLite 957/1006/1052 against 900/1099/1246 (no difference
# beyond the noise). A remote server's longer round trips leave more to overlap; a relay
# takes this many sessions from one client by default (Postfix allows 50).
DEFAULT_CONNECTIONS = 8


# A session stops sending (the rest of its share is retried later) when a message it sent
# cannot be recorded within this many seconds.
RECORD_TIMEOUT_SECONDS = 30.0


class MailBackend(Protocol):
    def send_batch(
        self, messages: Sequence[tuple[int, OutgoingMail]], ledger: SentLedger
    ) -> dict[int, str | None]:
        """Send each (id, message), telling `ledger` of each accepted one at once; return
        id -> None if accepted, or a short error."""


class FileBackend:
    """Writes each mail as an .eml file and logs its links, so a one-box set-up needs no mail
    server. The log line carries the links (tokens) but never the address.

    Exactly once: a file appears whole or not at all (written aside, fsynced, then linked
    into place), and a message whose file already exists (a re-send after a crash) is not
    written again.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send_batch(
        self, messages: Sequence[tuple[int, OutgoingMail]], ledger: SentLedger
    ) -> dict[int, str | None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        results: dict[int, str | None] = {}
        for mail_id, message in messages:
            path = self.directory / f"{mail_id:08d}.eml"
            try:
                written = _write_once(path, message.data)
            except OSError as exc:
                results[mail_id] = f"write: {type(exc).__name__}"
                continue
            if written:
                logger.info(
                    "mail %d written to %s; links: %s", mail_id, path, " ".join(message.links)
                )
            else:
                logger.warning(
                    "mail %d was already written to %s; not written again", mail_id, path
                )
            ledger.sent(mail_id)
            results[mail_id] = None
        return results


def _write_once(path: Path, data: bytes) -> bool:
    """Write `path` atomically unless it exists; False if it did."""
    if path.exists():
        return False
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with partial.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(partial, path)  # fails if the name exists: never overwrites
        except FileExistsError:
            return False
    finally:
        partial.unlink(missing_ok=True)
    return True


class SmtpBackend:
    """SMTP_URL: smtp://[user:pass@]host[:port][?starttls=true&timeout=10&connections=8] or
    smtps://... for implicit TLS.

    A batch is split over `connections` SMTP sessions sent in parallel: each message takes
    four round trips (MAIL, RCPT, DATA, the data itself), and one session spends most of its
    time waiting for replies.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP_URL must start with smtp:// or smtps://")
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.implicit_tls = parts.scheme == "smtps"
        self.starttls = options.get("starttls", "false").lower() in ("1", "true", "yes")
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = float(options.get("timeout", "10"))
        self.connections = int(options.get("connections", DEFAULT_CONNECTIONS))
        if self.connections < 1:
            raise ValueError("SMTP_URL connections must be at least 1")
        # Built once, and only for TLS: loading the CA store cost ~5% of a drain per
        # connection.
        self._tls_context = (
            ssl.create_default_context() if self.implicit_tls or self.starttls else None
        )

    def _connect(self) -> smtplib.SMTP:
        client: smtplib.SMTP
        if self.implicit_tls:
            client = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._tls_context
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                client.starttls(context=self._tls_context)
        if self.username and self.password:
            client.login(self.username, self.password)
        return client

    def send_batch(
        self, messages: Sequence[tuple[int, OutgoingMail]], ledger: SentLedger
    ) -> dict[int, str | None]:
        sessions = max(1, min(self.connections, len(messages)))
        shares = [messages[i::sessions] for i in range(sessions)]
        results: dict[int, str | None] = {}
        with ThreadPoolExecutor(sessions, thread_name_prefix="smtp") as pool:
            for share_results in pool.map(
                lambda share: self._send_over_one_connection(share, ledger), shares
            ):
                results.update(share_results)
        return results

    def _send_over_one_connection(
        self, messages: Sequence[tuple[int, OutgoingMail]], ledger: SentLedger
    ) -> dict[int, str | None]:
        results: dict[int, str | None] = {}
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            error = f"connect: {type(exc).__name__}"
            return {mail_id: error for mail_id, _ in messages}
        previous: Receipt | None = None

        def previous_recorded() -> None:
            # The one message of this session that may be delivered but unrecorded is the
            # last one: the next DATA waits until its record is committed.
            if previous is not None and not previous.wait(RECORD_TIMEOUT_SECONDS):
                raise _NotRecorded

        try:
            for mail_id, message in messages:
                try:
                    _send(client, message, before_data=previous_recorded)
                    results[mail_id] = None
                    previous = ledger.sent(mail_id)
                except _NotRecorded:
                    break  # the rest of the share is retried after its backoff
                except smtplib.SMTPResponseException as exc:
                    # The code only: the server's text may quote the recipient's address.
                    results[mail_id] = f"smtp {exc.smtp_code}"
                except (OSError, smtplib.SMTPException) as exc:
                    results[mail_id] = f"send: {type(exc).__name__}"
            if previous is not None:
                previous.wait(RECORD_TIMEOUT_SECONDS)
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        return results


class _NotRecorded(Exception):
    """The previous message's "sent" record could not be committed."""


def _send(client: smtplib.SMTP, message: OutgoingMail, *, before_data: Callable[[], None]) -> None:
    """smtplib's `sendmail` for one message, calling `before_data` between RCPT and DATA, so
    the wait for the previous record overlaps the MAIL and RCPT round trips."""
    client.ehlo_or_helo_if_needed()
    options = []
    if client.does_esmtp:
        if client.has_extn("size"):
            options.append(f"size={len(message.data)}")
        if message.smtputf8:
            # What smtplib's send_message asks for when an address is not ASCII.
            options += ["SMTPUTF8", "BODY=8BITMIME"]
    code, reply = client.mail(message.envelope_from, options)
    if code != 250:
        _abandon(client, code)
        raise smtplib.SMTPSenderRefused(code, reply, message.envelope_from)
    refused = {}
    for recipient in message.recipients:
        code, reply = client.rcpt(recipient)
        if code not in (250, 251):
            refused[recipient] = (code, reply)
        if code == 421:
            client.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(message.recipients):
        _abandon(client, code)
        raise smtplib.SMTPRecipientsRefused(refused)
    try:
        before_data()
    except _NotRecorded:
        _abandon(client, 0)
        raise
    code, reply = client.data(message.data)
    if code != 250:
        _abandon(client, code)
        raise smtplib.SMTPDataError(code, reply)


def _abandon(client: smtplib.SMTP, code: int) -> None:
    """As smtplib does after a refusal: 421 means the server is closing; else reset."""
    if code == 421:
        client.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        client.rset()
