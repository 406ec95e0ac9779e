"""Queue mail in the caller's transaction; claim, and settle, mail for the worker."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy
from sqlalchemy import Dialect, TypeDecorator, delete, func, or_, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlmodel import Session, col, select

from api.db import UtcDateTime, table_of, utcnow
from api.mail.models import MailMessage, MailStatus
from api.rowinsert import RowInsert
from api.security import keyed_hash

DEFAULT_LEASE = dt.timedelta(seconds=120)
MAX_ATTEMPTS = 50
MAX_BACKOFF_SECONDS = 600


@dataclass(frozen=True)
class ClaimedMail:
    id: int
    template: str
    locale: str
    to_address: str
    payload: dict[str, Any]
    attempts: int
    created_at: dt.datetime
    recipient_hash: str | None = None


def message_id(secret: bytes, mail: ClaimedMail, domain: str) -> str:
    """The outbox row's Message-ID: the same on every attempt, so a message sent again after
    a crash is folded with the first by mail systems. Keyed, so it neither reveals how much
    mail we send nor can be guessed; the creation time keeps ids unique across databases that
    reuse row ids."""
    digest = keyed_hash(secret, "message-id", f"{mail.id}:{mail.created_at.isoformat()}")
    return f"<outbox-{mail.id}.{digest[:20]}@{domain}>"


@dataclass(frozen=True)
class RecipientLimit:
    """At most `mails` mails to one recipient (by the keyed hash of its canonical address)
    per `window`; the same "<mails>/<seconds>" form as the rate limits."""

    mails: int
    window: dt.timedelta

    @classmethod
    def parse(cls, text: str) -> RecipientLimit:
        mails, seconds = (int(part) for part in text.split("/"))
        return cls(mails, dt.timedelta(seconds=seconds))


def mail_row(
    *,
    template: str,
    locale: str,
    to_address: str,
    payload: dict[str, Any],
    signature_id: int | None = None,
    recipient_hash: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """One outbox row, with the model's defaults (rows are written with Core statements: they
    are written for every signature, and the ORM's object and flush cost more than the
    statement). `recipient_hash` (the keyed hash of the canonical address) is what the cap
    counts by."""
    now = now or utcnow()
    return {
        "template": template,
        "locale": locale,
        "to_address": to_address,
        "payload": payload,
        "recipient_hash": recipient_hash,
        "signature_id": signature_id,
        "status": MailStatus.pending.value,
        "attempts": 0,
        "next_attempt_at": now,
        "lease_until": None,
        "created_at": now,
        "sent_at": None,
        "last_error": None,
    }


def enqueue(session: Session, **fields: Any) -> None:
    """Add one mail (the arguments of `mail_row`) to the outbox. It is sent only if the
    caller's transaction commits."""
    enqueue_rows(session, [mail_row(**fields)])


def enqueue_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add mails (`mail_row`s) to the outbox, in one statement."""
    if rows:
        _MAIL_INSERT.execute(session.connection(), rows)


def recent_counts(
    session: Session, recipient_hashes: Collection[str], window: dt.timedelta
) -> dict[str, int]:
    """How many mails each recipient was queued within `window`, in one query."""
    if not recipient_hashes:
        return {}
    asked = RecentMail(list(set(recipient_hashes)), window)
    rows = session.connection().execute(_RECENT_BY_RECIPIENT, asked.parameters())
    return {recipient: count for recipient, count in rows}


def recipient_capped(session: Session, recipient_hash: str, limit: RecipientLimit | None) -> bool:
    """Whether `recipient_hash` was queued `limit.mails` mails within its window: then it
    gets no more, whoever asks and from however many addresses. The check is a read, so
    requests racing in the same instant may pass it together; the cap holds to within the
    number of concurrent requests."""
    if limit is None:
        return False
    recent = recent_counts(session, [recipient_hash], limit.window).get(recipient_hash, 0)
    return recent >= limit.mails


_MAIL = table_of(MailMessage)
_MAIL_INSERT = RowInsert(_MAIL, [column.name for column in _MAIL.c if column.name != "id"])


class _StringList(TypeDecorator[list[str]]):
    """A list of strings sent as one parameter: a JSON array on SQLite, an array on
    PostgreSQL (`_OneOf` reads it)."""

    impl = sqlalchemy.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":  # (the generic ARRAY: PostgreSQL's module stays unloaded)
            return dialect.type_descriptor(sqlalchemy.ARRAY(sqlalchemy.String()))
        return dialect.type_descriptor(sqlalchemy.JSON())


class _OneOf(ColumnElement[bool]):
    """`column` is one of the strings of a `_StringList` parameter.

    Why not `column.in_(bindparam(..., expanding=True))`: an expanding parameter makes
    SQLAlchemy write the statement out again for every execution, with a placeholder per
    value, and each number of values is a statement of its own to the driver. Signing reads
    the mail cap for every signer of its batch inside SQLite's write lock, where that
    rewriting was about a twentieth of a batch's work (cProfile of `bench.writer`)."""

    inherit_cache = True
    type = sqlalchemy.Boolean()
    _is_implicitly_boolean = True  # a condition as it is: no "= 1" on SQLite
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], values: sqlalchemy.BindParameter[Any]) -> None:
        self.column = column
        self.values = values


@compiles(_OneOf)
def _one_of_json_each(element: _OneOf, compiler: Any, **kw: Any) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.values, **kw)
    return f"{column} IN (SELECT value FROM json_each({values}))"  # noqa: S608 (compiled parts)


@compiles(_OneOf, "postgresql")
def _one_of_any(element: _OneOf, compiler: Any, **kw: Any) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.values, **kw)
    return f"{column} = ANY ({values})"


_RECENT_BY_RECIPIENT = (
    sqlalchemy.select(_MAIL.c.recipient_hash, func.count().label("mails"))
    .where(
        _OneOf(
            _MAIL.c.recipient_hash,
            sqlalchemy.bindparam("recipient_hashes", type_=_StringList()),
        ),
        _MAIL.c.created_at > sqlalchemy.bindparam("since", type_=UtcDateTime),
    )
    .group_by(_MAIL.c.recipient_hash)
)


class _JsonObjectAgg(FunctionElement[Any]):
    """A JSON object of (key, value) over a query's rows: SQLite's json_group_object,
    PostgreSQL's json_object_agg (NULL there when there are no rows)."""

    type = sqlalchemy.JSON()
    inherit_cache = True


@compiles(_JsonObjectAgg)
def _json_group_object(element: _JsonObjectAgg, compiler: Any, **kw: Any) -> str:
    return f"json_group_object({compiler.process(element.clauses, **kw)})"


@compiles(_JsonObjectAgg, "postgresql")
def _json_object_agg(element: _JsonObjectAgg, compiler: Any, **kw: Any) -> str:
    return f"json_object_agg({compiler.process(element.clauses, **kw)})"


def recent_counts_column() -> Any:
    """`recent_counts` as one JSON value ({recipient hash: mails}) to read beside other
    columns: its query takes `RecentMail.parameters()`, and `RecentMail.read` takes the value.
    Signing reads it with the petition (api.petitions.taking): inside SQLite's write lock,
    each statement is one more return to a GIL that the event loop may hold, and on
    PostgreSQL one more round trip."""
    counted = _RECENT_BY_RECIPIENT.subquery()
    return (
        sqlalchemy.select(_JsonObjectAgg(counted.c.recipient_hash, counted.c.mails))
        .scalar_subquery()
        .label("recent_mail")
    )


@dataclass
class RecentMail:
    """`recent_counts` for these recipients within `window`, read in another query (with
    `recent_counts_column()`): `counts` stays None until that query has run."""

    recipient_hashes: list[str]
    window: dt.timedelta
    counts: dict[str, int] | None = None

    def parameters(self) -> dict[str, Any]:
        return {"recipient_hashes": self.recipient_hashes, "since": utcnow() - self.window}

    def read(self, value: dict[str, int] | None) -> None:
        self.counts = dict(value or {})

    def counts_within(self, window: dt.timedelta) -> dict[str, int] | None:
        """The counts, if they were read, and for `window`."""
        return self.counts if window == self.window else None


@contextmanager
def claim_planning(session: Session) -> Iterator[None]:
    """On PostgreSQL, plan the statements inside without a sort where an index gives the order.

    A claim needs the first 100 due mails, and the due index holds them in that order. But
    before the outbox's first ANALYZE (a new database; any database on a server with
    autovacuum off) the planner guesses a handful of due rows, and reads every pending mail
    in a bitmap and sorts them all: 37 ms a claim with 60,000 queued, against 0.2 ms in index
    order. With statistics it reads the index anyway; this keeps the claim's plan from
    depending on them. Scoped to the transaction (SET LOCAL), and set back at once."""
    connection = session.connection()
    postgresql = connection.dialect.name == "postgresql"
    if postgresql:
        connection.exec_driver_sql("SET LOCAL enable_sort = off")
    yield
    if postgresql:  # (after a failure the transaction is rolled back, and the setting with it)
        connection.exec_driver_sql("SET LOCAL enable_sort = on")


def claim_due(
    session: Session, limit: int, lease: dt.timedelta = DEFAULT_LEASE
) -> list[ClaimedMail]:
    """Lease up to `limit` due mails to this worker.

    On PostgreSQL rows are picked with FOR UPDATE SKIP LOCKED, so concurrent workers never
    claim the same mail; on SQLite the write transaction (BEGIN IMMEDIATE) serialises claims.
    A lease that runs out (a worker died mid-send) makes the mail due again.
    """
    now = utcnow()
    due = (
        select(MailMessage.id)
        .where(
            MailMessage.status == MailStatus.pending.value,
            col(MailMessage.next_attempt_at) <= now,
            or_(col(MailMessage.lease_until).is_(None), col(MailMessage.lease_until) < now),
        )
        # Soonest due first: the order of the (status, next_attempt_at, id) index the filter
        # searches, so the read can stop after `limit` rows (on PostgreSQL with or without
        # statistics: claim_planning). By id, every claim read all pending mail and sorted it
        # (SQLite; PostgreSQL without statistics), or walked the ids past every mail ever sent
        # (PostgreSQL with them: 4.1 ms with 30,000 sent, against 0.16 ms in this order).
        .order_by(col(MailMessage.next_attempt_at), col(MailMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    with claim_planning(session):
        ids = list(session.exec(due))
    if not ids:
        return []
    session.exec(
        update(MailMessage)
        .where(col(MailMessage.id).in_(ids))
        .values(lease_until=now + lease, attempts=MailMessage.attempts + 1)
    )
    rows = session.exec(select(MailMessage).where(col(MailMessage.id).in_(ids)))
    return [
        ClaimedMail(
            id=row.id or 0,
            template=row.template,
            locale=row.locale,
            to_address=row.to_address or "",
            payload=row.payload or {},
            attempts=row.attempts,
            created_at=row.created_at,
            recipient_hash=row.recipient_hash,
        )
        for row in rows
    ]


def mark_sent(session: Session, mail_ids: list[int]) -> None:
    """Sent mail keeps no recipient and no links."""
    if not mail_ids:
        return
    session.connection().execute(_MARK_SENT, {"ids": mail_ids, "now": utcnow()})


# A Core statement built once: the ledger runs it for every few messages.
_MARK_SENT = (
    sqlalchemy.update(_MAIL)
    .where(_MAIL.c.id.in_(sqlalchemy.bindparam("ids", expanding=True)))
    .values(
        status=MailStatus.sent.value,
        sent_at=sqlalchemy.bindparam("now", type_=UtcDateTime),
        lease_until=None,
        to_address=None,
        payload=None,
        last_error=None,
    )
)


def mark_skipped(session: Session, mail_ids: list[int]) -> None:
    """Nothing to send after all; keep no recipient and no links."""
    if not mail_ids:
        return
    session.exec(
        update(MailMessage)
        .where(col(MailMessage.id).in_(mail_ids))
        .values(status=MailStatus.skipped.value, lease_until=None, to_address=None, payload=None)
    )


def set_payload(session: Session, mail_id: int, payload: dict[str, Any]) -> None:
    """Keep what a worker prepared (e.g. a link), so a re-send after a crash sends the same."""
    session.exec(update(MailMessage).where(col(MailMessage.id) == mail_id).values(payload=payload))


def forget_recipients(session: Session, older_than: dt.timedelta) -> None:
    """The per-recipient cap needs a recipient's hash only for its window: drop older ones."""
    session.exec(
        update(MailMessage)
        .where(
            col(MailMessage.recipient_hash).is_not(None),
            col(MailMessage.status) != MailStatus.pending.value,  # the worker still needs it
            col(MailMessage.created_at) < utcnow() - older_than,
        )
        .values(recipient_hash=None)
    )


def mark_failed(session: Session, mail: ClaimedMail, error: str) -> None:
    """Retry later with exponential backoff; give up after MAX_ATTEMPTS."""
    backoff = min(2 ** min(mail.attempts, 20), MAX_BACKOFF_SECONDS)
    gave_up = mail.attempts >= MAX_ATTEMPTS
    session.exec(
        update(MailMessage)
        .where(col(MailMessage.id) == mail.id)
        .values(
            status=MailStatus.failed.value if gave_up else MailStatus.pending.value,
            next_attempt_at=utcnow() + dt.timedelta(seconds=backoff),
            lease_until=None,
            last_error=error[:300],
        )
    )


def erase_for_signature(session: Session, signature_id: int) -> None:
    """Forget a signer's mail: unsent mail is dropped, sent mail keeps no address."""
    session.exec(
        delete(MailMessage).where(
            col(MailMessage.signature_id) == signature_id,
            col(MailMessage.status) != MailStatus.sent.value,
        )
    )
    session.exec(
        update(MailMessage)
        .where(col(MailMessage.signature_id) == signature_id)
        .values(to_address=None, payload=None, recipient_hash=None)
    )
