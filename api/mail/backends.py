"""Where mail goes: an SMTP server (SMTP_URL), or .eml files under MAIL_DIR."""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from api.mail.templates import OutgoingMail

logger = logging.getLogger(__name__)

# On the bench's local sink (2 cores) 2-4 sessions drain fastest; past that they only share
# the same CPU. A remote server's longer round trips leave more to overlap.
DEFAULT_CONNECTIONS = 4


class MailBackend(Protocol):
    def send_batch(self, messages: Sequence[tuple[int, OutgoingMail]]) -> dict[int, str | None]:
        """Send each (id, message); return id -> None if sent, or a short error."""


class FileBackend:
    """Writes each mail as an .eml file and logs its links, so a one-box set-up needs no mail
    server. The log line carries the links (tokens) but never the address."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send_batch(self, messages: Sequence[tuple[int, OutgoingMail]]) -> dict[int, str | None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        results: dict[int, str | None] = {}
        for mail_id, message in messages:
            path = self.directory / f"{mail_id:08d}.eml"
            path.write_bytes(message.data)
            logger.info("mail %d written to %s; links: %s", mail_id, path, " ".join(message.links))
            results[mail_id] = None
        return results


class SmtpBackend:
    """SMTP_URL: smtp://[user:pass@]host[:port][?starttls=true&timeout=10&connections=4] or
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

    def send_batch(self, messages: Sequence[tuple[int, OutgoingMail]]) -> dict[int, str | None]:
        sessions = max(1, min(self.connections, len(messages)))
        shares = [messages[i::sessions] for i in range(sessions)]
        results: dict[int, str | None] = {}
        with ThreadPoolExecutor(sessions, thread_name_prefix="smtp") as pool:
            for share_results in pool.map(self._send_over_one_connection, shares):
                results.update(share_results)
        return results

    def _send_over_one_connection(
        self, messages: Sequence[tuple[int, OutgoingMail]]
    ) -> dict[int, str | None]:
        results: dict[int, str | None] = {}
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            error = f"connect: {type(exc).__name__}"
            return {mail_id: error for mail_id, _ in messages}
        try:
            for mail_id, message in messages:
                # What smtplib's send_message asks for when an address is not ASCII.
                options = ("SMTPUTF8", "BODY=8BITMIME") if message.smtputf8 else ()
                try:
                    client.sendmail(
                        message.envelope_from,
                        list(message.recipients),
                        message.data,
                        mail_options=options,
                    )
                    results[mail_id] = None
                except smtplib.SMTPResponseException as exc:
                    # The code only: the server's text may quote the recipient's address.
                    results[mail_id] = f"smtp {exc.smtp_code}"
                except (OSError, smtplib.SMTPException) as exc:
                    results[mail_id] = f"send: {type(exc).__name__}"
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        return results
