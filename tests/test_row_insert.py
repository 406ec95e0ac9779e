"""RowInsert (api.rowinsert): many rows in one statement through the driver, stored exactly as
SQLAlchemy's own insert stores them, on either database."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import pytest
import sqlalchemy

from api.abuse.models import BlockedEmailDomain
from api.db import Database, table_of, utcnow
from api.mail.models import MailMessage
from api.mail.service import mail_row
from api.rowinsert import RowInsert

_MAIL = table_of(MailMessage)
_COLUMNS = [column.name for column in _MAIL.c if column.name != "id"]


def _rows(template: str, now: dt.datetime) -> list[dict[str, Any]]:
    rows = [
        mail_row(
            template=template,
            locale="es" if i % 2 else "en",
            to_address=f"zoë.{i}@example.org",
            payload={"first_name": "Zoë 🌱", "n": i, "nested": {"list": [1, None, "ñ"]}},
            recipient_hash=f"hash-{i}",
            now=now + dt.timedelta(microseconds=i),
        )
        for i in range(5)
    ]
    rows[1]["last_error"] = "a 'quoted' error; DROP TABLE mail_message"
    rows[2]["lease_until"] = now + dt.timedelta(minutes=5)
    rows[3]["sent_at"] = now
    rows[3]["status"] = "sent"
    # What an array's text form must quote or escape (PostgreSQL's inserts send arrays).
    rows[4]["last_error"] = "NULL"
    rows[0]["last_error"] = 'a back\\slash, "double quotes", {braces} and a\ttab'
    return rows


def _stored(database: Database, template: str) -> tuple[list[Any], list[Any]]:
    """The rows of one template, as the ORM types read them and as the driver returns them."""
    columns = [_MAIL.c[name] for name in _COLUMNS if name != "template"]
    names = ", ".join(name for name in _COLUMNS if name != "template")
    with database.session() as session:
        typed = session.connection().execute(
            sqlalchemy.select(*columns).where(_MAIL.c.template == template).order_by(_MAIL.c.id)
        )
        raw = session.connection().exec_driver_sql(
            f"SELECT {names} FROM mail_message WHERE template = '{template}' ORDER BY id"
        )
        return [tuple(row) for row in typed], [tuple(row) for row in raw]


def test_rows_are_stored_as_sqlalchemy_stores_them(clean_database: Database) -> None:
    with clean_database.session(write=True) as session:
        connection = session.connection()
        now = utcnow()
        connection.execute(sqlalchemy.insert(_MAIL), _rows("by-core", now))
        RowInsert(_MAIL, _COLUMNS).execute(connection, _rows("by-rows", now))
        RowInsert(_MAIL, _COLUMNS).execute(connection, [])  # nothing to write: no statement

    typed_core, raw_core = _stored(clean_database, "by-core")
    typed_rows, raw_rows = _stored(clean_database, "by-rows")
    assert len(typed_rows) == 5
    assert typed_rows == typed_core  # read back through the column types
    assert raw_rows == raw_core  # and byte for byte as stored (datetime text, JSON text)
    assert typed_rows[0][_COLUMNS.index("payload") - 1]["first_name"] == "Zoë 🌱"


def test_a_failed_row_insert_writes_no_row(clean_database: Database) -> None:
    rows = _rows("half", utcnow())
    rows[3]["signature_id"] = 2**31 - 1  # no such signature: the one statement fails whole
    try:
        with clean_database.session(write=True) as session:
            RowInsert(_MAIL, _COLUMNS).execute(session.connection(), rows)
    except sqlalchemy.exc.IntegrityError:
        pass
    else:
        raise AssertionError("a mail about no signature was stored")
    typed, _ = _stored(clean_database, "half")
    assert typed == []


def test_more_rows_than_one_statement_takes_are_all_stored(clean_database: Database) -> None:
    count = 50
    now = utcnow()
    rows = [
        mail_row(template="many", locale="en", to_address=f"{i}@example.org", payload={"i": i})
        | {"created_at": now}
        for i in range(count)
    ]
    with clean_database.session(write=True) as session:
        driver = session.connection().connection.driver_connection
        if isinstance(driver, sqlite3.Connection):
            # A build that takes 100 parameters a statement: 50 rows of 13 need seven.
            limit = driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100)
        try:
            RowInsert(_MAIL, _COLUMNS).execute(session.connection(), rows)
        finally:
            if isinstance(driver, sqlite3.Connection):
                driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
    with clean_database.session() as session:
        stored = session.connection().execute(
            sqlalchemy.select(_MAIL.c.payload).where(_MAIL.c.template == "many")
        )
        assert sorted(payload["i"] for (payload,) in stored) == list(range(count))


def test_returning_gives_the_rows_written_and_skips_conflicts(clean_database: Database) -> None:
    # As signing writes signatures on SQLite: ON CONFLICT DO NOTHING, the rows written back.
    table = table_of(BlockedEmailDomain)
    columns = [column.name for column in table.c if column.name != "id"]
    insert = RowInsert(
        table, columns, suffix="ON CONFLICT (domain) DO NOTHING", returning=("domain",)
    )
    now = utcnow()

    def row(domain: str) -> dict[str, Any]:
        return {"domain": domain, "reason": "test", "created_at": now}

    with clean_database.session(write=True) as session:
        first = insert.execute(session.connection(), [row("ri-a.example"), row("ri-b.example")])
        second = insert.execute(
            session.connection(), [row("ri-b.example"), row("ri-c.example"), row("ri-a.example")]
        )
    assert sorted(first) == [("ri-a.example",), ("ri-b.example",)]
    assert second == [("ri-c.example",)]


def test_count_and_last_id_are_of_the_rows_written_not_those_a_conflict_skipped(
    clean_database: Database,
) -> None:
    # As signing writes signatures on SQLite: no RETURNING and no read of the ids; the count
    # says whether all went in, and the rows written have consecutive ids ending at the last.
    if not clean_database.is_sqlite:
        pytest.skip("SQLite's rowids; PostgreSQL's inserts return their ids")
    table = table_of(BlockedEmailDomain)
    columns = [column.name for column in table.c]  # its ids: SQLite's own rowids
    insert = RowInsert(table, columns, suffix="ON CONFLICT (domain) DO NOTHING")
    now = utcnow()

    def row(domain: str) -> dict[str, Any]:
        return {"domain": domain, "reason": "test", "created_at": now}

    def ids(session: Any, domains: list[str]) -> list[int]:
        rows = session.connection().exec_driver_sql("SELECT domain, rowid FROM " + table.name)
        found = dict(rows.all())
        return [found[domain] for domain in domains]

    with clean_database.session(write=True) as session:
        connection = session.connection()
        count, last = insert.count_and_last_id(
            connection, [row("rc-a.example"), row("rc-b.example")]
        )
        assert (count, [last - 1, last]) == (2, ids(session, ["rc-a.example", "rc-b.example"]))
        # Two rows a statement (the parameter limit, lowered): the last statement writes
        # nothing, and the last id is still that of the last row written.
        driver = connection.connection.driver_connection
        limit = driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 2 * len(columns))
        try:
            again = ["rc-c.example", "rc-b.example", "rc-d.example", "rc-e.example", "rc-a.example"]
            count, last = insert.count_and_last_id(connection, [row(d) for d in again])
        finally:
            driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
        written = ["rc-c.example", "rc-d.example", "rc-e.example"]
        assert (count, [last - 2, last - 1, last]) == (3, ids(session, written))
        assert insert.count_and_last_id(connection, [row("rc-a.example")]) == (0, None)
        assert insert.count_and_last_id(connection, []) == (0, None)
