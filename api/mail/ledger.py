"""Record "sent" for each message as soon as the server has accepted it.

SMTP cannot make delivery and our record of it one atomic step: between the server's `250`
and our commit a crash (kill -9, a full disk, a lost database) leaves a message delivered but
not recorded, and it is sent again after its lease. The ledger shrinks that window to the
messages on the wire: each SMTP session hands a message's id to the ledger right after its
`250`, and does not send the DATA of its next message until that record is committed. So at
any instant at most one message per session is delivered-but-unrecorded, and a re-send of it
carries the same Message-ID (see `message_id`), which mail systems fold.

The records are group-committed on one thread: while it commits, the other sessions' ids
gather for the next commit, so the cost is about one commit per `connections` messages and
it overlaps the next message's MAIL and RCPT round trips.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class Receipt:
    """Whether one message's "sent" record is committed."""

    __slots__ = ("_done", "recorded")

    def __init__(self) -> None:
        self._done = threading.Event()
        self.recorded = False

    def _settle(self, recorded: bool) -> None:
        self.recorded = recorded
        self._done.set()

    def wait(self, timeout: float) -> bool:
        """True once committed; False if the commit failed or took longer than `timeout`."""
        return self._done.wait(timeout) and self.recorded


class SentLedger:
    def __init__(self, record: Callable[[list[int]], None]) -> None:
        self._record = record
        self._pending: list[tuple[int, Receipt]] = []
        self._receipts: dict[int, Receipt] = {}
        self._closed = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="mail-ledger", daemon=True)
        self._thread.start()

    def sent(self, mail_id: int) -> Receipt:
        """The server accepted `mail_id`: record it."""
        receipt = Receipt()
        with self._wake:
            self._pending.append((mail_id, receipt))
            self._receipts[mail_id] = receipt
            self._wake.notify()
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

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                batch, self._pending = self._pending, []
                if not batch and self._closed:
                    return
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
