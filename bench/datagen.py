"""Fill a database fast for the scale scenarios: bulk inserts, not the API.

    python -m bench.datagen --database-url URL confirmed 1000000
    python -m bench.datagen --database-url URL pending 50000 --tokens-file var/tokens.txt
    python -m bench.datagen --database-url URL outbox 20000

* `confirmed N`: N confirmed signatures on the petition, and its sharded counter
  (`count_shard`) raised by exactly N in the same transaction, so `/count` agrees with the rows.
* `pending N`: N pending signatures, each with a confirm token; the tokens (plaintext, one a
  line) go to --tokens-file for the confirm scenario; only their SHA-256 is stored, as the
  service does.
* `outbox N`: N due confirmation mails in the outbox, each to a distinct address.

Rows look like the service's: real US ZIPs resolved to state and county, email hashes keyed with
SECRET_KEY (so a later signature with the same address is a repeat, as it would be). SQLite is
filled with executemany inside one BEGIN IMMEDIATE transaction; PostgreSQL with COPY.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from api.petitions.models import COUNT_SHARDS
from api.petitions.validation import resolve_postal_code

DEFAULT_SLUG = "florida-minimum-arrest-age-12"
ZIPS = ("32801", "33101", "32301", "33602", "32202", "10001", "94103", "60601", "78701", "98101")
FIRST = ("Ana", "Luis", "Maya", "Omar", "Grace", "Tariq", "Lena", "Jon", "Ivy", "Noah")
LAST = ("Quintanilla", "Okafor", "Nguyen", "Smith", "Haddad", "Lopez", "Kowalski", "Reyes")
SIGNATURE_COLUMNS = (
    "id",
    "petition_id",
    "petition_version",
    "status",
    "email_hash",
    "email",
    "first_name",
    "last_name",
    "postal_code",
    "comment",
    "ip_hash",
    "county",
    "country",
    "state",
    "display_publicly",
    "contact_opt_in",
    "locale",
    "emails_sent",
    "created_at",
    "confirmed_at",
    "withdrawn_at",
)
TOKEN_COLUMNS = ("token_hash", "signature_id", "purpose", "created_at", "expires_at", "used_at")
MAIL_COLUMNS = (
    "template",
    "locale",
    "to_address",
    "payload",
    "signature_id",
    "status",
    "attempts",
    "next_attempt_at",
    "lease_until",
    "created_at",
    "sent_at",
    "last_error",
)


def _places() -> list[tuple[str, str | None, str | None]]:
    places = []
    for zip_code in ZIPS:
        place = resolve_postal_code(zip_code, "US")
        places.append((place.postal_code, place.state, place.county))
    return places


def _keyed_hash(secret: bytes, purpose: str, value: str) -> str:
    # Same construction as api.security.keyed_hash, inlined for speed.
    return hmac.new(secret, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


class Target:
    """One database (SQLite file or PostgreSQL) opened with its plain driver."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.is_sqlite = url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            assert url.database, "a SQLite file is needed"
            self.connection: Any = sqlite3.connect(url.database, isolation_level=None, timeout=60)
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=FULL")
            self.connection.execute("BEGIN IMMEDIATE")
        else:
            import psycopg

            libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
            self.connection = psycopg.connect(libpq)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if not self.is_sqlite:
            sql = sql.replace("?", "%s")
        cursor = self.connection.execute(sql, params)
        return list(cursor.fetchall())

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if not self.is_sqlite:
            sql = sql.replace("?", "%s")
        self.connection.execute(sql, params)

    def time(self, value: dt.datetime | None) -> Any:
        if value is None or not self.is_sqlite:
            return value
        # How api.db.UtcDateTime stores it on SQLite: naive UTC text.
        return value.astimezone(dt.UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

    def bulk(self, table: str, columns: Sequence[str], rows: Iterator[tuple[Any, ...]]) -> None:
        names = ", ".join(columns)
        if self.is_sqlite:
            marks = ", ".join("?" for _ in columns)
            self.connection.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
            return
        with (
            self.connection.cursor() as cursor,
            cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def reserve_ids(self, table: str, n: int) -> int:
        """The first of n consecutive free ids (the transaction keeps them ours)."""
        if self.is_sqlite:
            (top,) = self.query(f"SELECT COALESCE(MAX(id), 0) FROM {table}")[0]
            return int(top) + 1
        self.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        (sequence,) = self.query(f"SELECT pg_get_serial_sequence('{table}', 'id')")[0]
        (top,) = self.query(f"SELECT COALESCE(MAX(id), 0) FROM {table}")[0]
        # Move the sequence past the ids we take, so the service's next insert does not collide.
        self.execute("SELECT setval(?, ?)", (sequence, int(top) + n + 1))
        return int(top) + 1

    def commit(self) -> None:
        if self.is_sqlite:
            self.connection.execute("COMMIT")
        else:
            self.connection.commit()
        self.connection.close()


def _petition(target: Target, slug: str) -> tuple[int, int]:
    rows = target.query("SELECT id, version FROM petition WHERE slug = ?", (slug,))
    if not rows:
        raise SystemExit(f"no petition {slug!r}: run `advocacy seed` first")
    return int(rows[0][0]), int(rows[0][1])


def _signature_rows(
    target: Target,
    secret: bytes,
    petition_id: int,
    version: int,
    first_id: int,
    n: int,
    status: str,
    label: str,
) -> Iterator[tuple[Any, ...]]:
    places = _places()
    now = dt.datetime.now(dt.UTC)
    created = target.time(now - dt.timedelta(hours=1))
    confirmed = target.time(now) if status == "confirmed" else None
    public = True if not target.is_sqlite else 1
    private = False if not target.is_sqlite else 0
    for i in range(n):
        email = f"{label}.{first_id + i}@example.org"
        postal_code, state, county = places[i % len(places)]
        yield (
            first_id + i,
            petition_id,
            version,
            status,
            _keyed_hash(secret, "email", email),
            email,
            FIRST[i % len(FIRST)],
            LAST[i % len(LAST)],
            postal_code,
            "Signed by the data generator." if i % 3 == 0 else None,
            None,
            county,
            "US",
            state,
            public if i % 2 == 0 else private,
            private,
            "en",
            1,
            created,
            confirmed,
            None,
        )


def add_confirmed(database_url: str, secret: bytes, n: int, slug: str = DEFAULT_SLUG) -> None:
    """N confirmed signatures, and the petition's count shards raised by exactly N."""
    target = Target(database_url)
    petition_id, version = _petition(target, slug)
    first_id = target.reserve_ids("signature", n)
    label = f"c{secrets.token_hex(3)}"
    target.bulk(
        "signature",
        SIGNATURE_COLUMNS,
        _signature_rows(target, secret, petition_id, version, first_id, n, "confirmed", label),
    )
    for shard in range(COUNT_SHARDS):
        share = n // COUNT_SHARDS + (1 if shard < n % COUNT_SHARDS else 0)
        target.execute(
            "UPDATE count_shard SET confirmed = confirmed + ? WHERE petition_id = ? AND shard = ?",
            (share, petition_id, shard),
        )
    target.commit()


# Pending links a confirm run is given per second of it: more than it can confirm (a run
# that ran out would answer the cheaper already_confirmed, and its rate would say too much).
# 6,000 ran out on 2026-12-04: SQLite confirmed 6,699/s.
LINKS_PER_SECOND = 12_000


def add_pending(
    database_url: str, secret: bytes, n: int, tokens_file: Path, slug: str = DEFAULT_SLUG
) -> None:
    """N pending signatures with a confirm token each; the plaintext tokens go to a file."""
    target = Target(database_url)
    petition_id, version = _petition(target, slug)
    first_id = target.reserve_ids("signature", n)
    label = f"p{secrets.token_hex(3)}"
    target.bulk(
        "signature",
        SIGNATURE_COLUMNS,
        _signature_rows(target, secret, petition_id, version, first_id, n, "pending", label),
    )
    tokens = [secrets.token_urlsafe(32) for _ in range(n)]
    now = dt.datetime.now(dt.UTC)
    created, expires = target.time(now), target.time(now + dt.timedelta(days=7))
    target.bulk(
        "signature_token",
        TOKEN_COLUMNS,
        (
            (
                hashlib.sha256(token.encode()).hexdigest(),
                first_id + i,
                "confirm",
                created,
                expires,
                None,
            )
            for i, token in enumerate(tokens)
        ),
    )
    target.commit()
    tokens_file.parent.mkdir(parents=True, exist_ok=True)
    tokens_file.write_text("\n".join(tokens) + "\n")


def add_outbox(database_url: str, n: int, base_url: str = "http://127.0.0.1:8000") -> None:
    """N due confirmation mails, each to a distinct address (no signature behind them)."""
    target = Target(database_url)
    label = f"m{secrets.token_hex(3)}"
    now = target.time(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5))

    def rows() -> Iterator[tuple[Any, ...]]:
        for i in range(n):
            payload = {
                "first_name": FIRST[i % len(FIRST)],
                "petition_title": "Set 12 as the minimum age of arrest in Florida",
                "confirm_url": f"{base_url}/confirm?token={secrets.token_urlsafe(32)}",
                "withdraw_url": f"{base_url}/withdraw?token={secrets.token_urlsafe(32)}",
            }
            yield (
                "confirm",
                "en",
                f"{label}.{i}@example.org",
                json.dumps(payload),
                None,
                "pending",
                0,
                now,
                None,
                now,
                None,
                None,
            )

    target.bulk("mail_message", MAIL_COLUMNS, rows())
    target.commit()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), required=False)
    parser.add_argument("--secret-key", default=os.environ.get("SECRET_KEY", "bench-secret"))
    parser.add_argument("--slug", default=DEFAULT_SLUG)
    parser.add_argument("kind", choices=("confirmed", "pending", "outbox"))
    parser.add_argument("n", type=int)
    parser.add_argument("--tokens-file", type=Path, default=Path("var/bench/tokens.txt"))
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url or DATABASE_URL is required")
    started = time.perf_counter()
    secret = args.secret_key.encode()
    if args.kind == "confirmed":
        add_confirmed(args.database_url, secret, args.n, args.slug)
    elif args.kind == "pending":
        add_pending(args.database_url, secret, args.n, args.tokens_file, args.slug)
    else:
        add_outbox(args.database_url, args.n)
    print(f"{args.n} {args.kind} rows in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
