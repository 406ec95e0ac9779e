"""Record "sent" for each message as soon as the server has accepted it.

SMTP cannot make delivery and our record of it one atomic step: between the server's `250`
and our commit a crash (kill -9, a full disk, a lost database) leaves a message delivered but
not recorded, and it is sent again after its lease. The ledger shrinks that window to the
messages on the wire: each SMTP session hands a message's id to the ledger right after its
`250`, and does not send the DATA of its next message until that record is committed. So at
any instant at most one message per session is delivered-but-unrecorded, and a re-send of it
carries the same Message-ID (see `message_id`), which mail systems fold.

The records are group-committed on one thread, when a session needs one (before its next
DATA, after that message's MAIL and RCPT round trips): a commit takes every id the sessions
gathered by then, about one commit per `connections` messages. The commits do not wait for
the disk (Database.process_durable_session): they must survive a crash of the worker, which
they do; a power cut that lost one would re-send messages with their same Message-IDs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class Receipt:
    """Whether one message's "sent" record is committed."""

    __slots__ = ("_done", "_ledger", "recorded")

    def __init__(self, ledger: SentLedger) -> None:
        self._done = threading.Event()
        self._ledger = ledger
        self.recorded = False

    def _settle(self, recorded: bool) -> None:
        self.recorded = recorded
        self._done.set()

    def wait(self, timeout: float) -> bool:
        """True once committed; False if the commit failed or took longer than `timeout`."""
        if not self._done.is_set():
            self._ledger._flush()
        return self._done.wait(timeout) and self.recorded


class SentLedger:
    def __init__(self, record: Callable[[list[int]], None]) -> None:
        self._record = record
        self._pending: list[tuple[int, Receipt]] = []
        self._receipts: dict[int, Receipt] = {}
        self._flush_wanted = False
        self._closed = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="mail-ledger", daemon=True)
        self._thread.start()

    def sent(self, mail_id: int) -> Receipt:
        """The server accepted `mail_id`: record it with the next commit. Commits happen when
        a session waits for one of its receipts (before its next DATA), and take every id
        gathered by then: about one commit per `connections` messages."""
        receipt = Receipt(self)
        with self._wake:
            self._pending.append((mail_id, receipt))
            self._receipts[mail_id] = receipt
        return receipt

    def unrecorded(self) -> list[int]:
        """After close(): accepted messages whose record failed."""
        return [mail_id for mail_id, receipt in self._receipts.items() if not receipt.recorded]

    def close(self) -> None:
        """Commit what is pending, then stop."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()

    def _flush(self) -> None:
        with self._wake:
            self._flush_wanted = True
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not (self._pending and self._flush_wanted) and not self._closed:
                    self._wake.wait()
                batch, self._pending = self._pending, []
                self._flush_wanted = False
                if not batch and self._closed:
                    return
            if not batch:
                continue
            try:
                self._record([mail_id for mail_id, _ in batch])
                recorded = True
            except Exception as exc:  # a full disk, a lost database: the sessions stop sending
                logger.error(
                    "mail: could not record %d sent messages: %s", len(batch), type(exc).__name__
                )
                recorded = False
            for _, receipt in batch:
                receipt._settle(recorded)
