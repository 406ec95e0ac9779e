"""Signing, confirming and withdrawing find their rows by key, whatever the tables hold.

SQLite's planner has no statistics here (nothing runs ANALYZE), so it guesses: given a batch's
ids and a status, it searched the (status, created_at) index, reading every pending signature
for each batch of confirmations. Nothing in a test's answers shows that; the confirm scenario
of `make bench` did, falling as pending signatures grew. So this reads SQLite's plan of every
statement those requests run.

PostgreSQL plans for the table as it is when it plans, but a statement the driver has prepared
may be given one generic plan for good: the per-recipient mail cap's lookup, prepared while the
outbox was nearly empty, kept a sequential scan of it on one worker's connection, 8 to 47 ms a
batch and growing (auto_explain under `make bench`'s signing, autovacuum off).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session

from api.db import Database
from api.mail import service as mail
from api.petitions.confirmation import confirm_many
from tests.conftest import link_in
from tests.petitions.helpers import SIGN_URL, signer

# The tables that grow with every signer: a plan may not read them whole. (SQLite before
# 3.36 wrote "SCAN TABLE x".)
GROWING = "(?:TABLE )?(?:signature|signature_token|mail_message|idempotency_record)\\b"
_SCAN = re.compile(rf"^SCAN {GROWING}")
# An index SQLite builds for the statement reads the table whole to build it.
_AUTOMATIC = re.compile(rf"^SEARCH {GROWING}.* AUTOMATIC ")
# A search by a status alone reads every row in that state: a scan in disguise.
_BY_STATUS_ALONE = re.compile(rf"^SEARCH {GROWING} USING .*INDEX \w+ \(status=\?\)$")


def _statements(database: Database, requests: Any) -> list[tuple[str, Any]]:
    """The statements (with their parameters) the engine runs while `requests()` runs."""
    seen: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        if not executemany and statement.lstrip().upper().startswith(
            ("SELECT", "UPDATE", "DELETE", "WITH", "INSERT")
        ):
            seen.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        requests()
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    return seen


def _sqlite_plan(database: Database, statement: str, parameters: Any) -> list[str]:
    """SQLite's plan of the statement, a step a line (EXPLAIN QUERY PLAN)."""
    raw = database.engine.raw_connection()
    try:
        rows = raw.cursor().execute("EXPLAIN QUERY PLAN " + statement, parameters)
        return [row[-1] for row in rows]
    finally:
        raw.close()


def _claim(database: Database) -> tuple[str, Any, int]:
    """The mail worker's claim of 100: the SELECT it runs, its parameters, how many it took."""
    claimed: list[int] = []

    def claim() -> None:
        with database.session(write=True) as session:
            claimed.append(len(mail.claim_due(session, 100)))

    (found, *_) = [seen for seen in _statements(database, claim) if seen[0].startswith("SELECT")]
    return (*found, claimed[0])


def _queue_mail(connection: Any, rows: int, *, status: str, due: str) -> None:
    """`rows` mails in PostgreSQL, n = 1..rows; `status` and `due` are SQL expressions of n."""
    connection.exec_driver_sql(
        "INSERT INTO mail_message (template, locale, to_address, payload, status, attempts, "
        "next_attempt_at, created_at) SELECT 'confirm', 'en', 'x' || n || '@example.org', "
        f"'{{}}', {status}, 0, {due}, now() FROM generate_series(1, {rows}) n"
    )


def test_signing_confirming_and_withdrawing_read_no_growing_table_whole(
    client, smtp_server, mail_worker, clean_database: Database
):
    app_database: Database = client.app.state.database
    if not app_database.is_sqlite:
        pytest.skip("SQLite's planner; PostgreSQL's plan cache is the next test")
    # Rows in every state the statements filter on, so a plan that reads by state has some.
    for n in range(40):
        assert (
            client.post(SIGN_URL, json=signer(email=f"waiting.{n}@example.org")).status_code == 202
        )

    def requests() -> None:
        for n in range(6):
            assert client.post(SIGN_URL, json=signer(email=f"s{n}@example.org")).status_code == 202
        mail_worker.drain()
        messages = [smtp_server.to(f"s{n}@example.org")[0] for n in range(6)]
        confirmed = client.post(
            "/v1/signatures/confirm", json={"token": link_in(messages[0], "/confirm")}
        )
        assert confirmed.json()["status"] == "confirmed"
        # Confirmations that arrive together are one batch (group commit): one statement
        # names all their rows.
        with app_database.session(write=True) as session:
            batch = confirm_many(session, [link_in(m, "/confirm") for m in messages[1:]])
        assert [outcome.status for outcome in batch] == ["confirmed"] * 5  # type: ignore[union-attr]
        token = link_in(messages[0], "/withdraw")
        assert client.post("/v1/signatures/withdraw", json={"token": token}).status_code == 200

    statements = _statements(app_database, requests)
    # The writer's statements were seen (the app's engine, not this test's): signing's too.
    assert any(statement.startswith("INSERT INTO signature ") for statement, _ in statements)
    assert any(statement.startswith("UPDATE signature SET status") for statement, _ in statements)
    for statement, parameters in statements:
        plan = _sqlite_plan(app_database, statement, parameters)
        for step in plan:
            for reads_whole in (_SCAN, _AUTOMATIC, _BY_STATUS_ALONE):
                assert not reads_whole.match(step), (statement, plan)


def test_the_mail_workers_claim_reads_only_what_it_claims(clean_database: Database):
    # Claiming 100 mails read every pending one and sorted them by id, per claim: the drain
    # slowed as its queue grew (15.9 ms a claim with 60,000 queued, PostgreSQL). In the
    # order of the index it searches, the read stops at the limit.
    if not clean_database.is_sqlite:
        pytest.skip("SQLite's planner; PostgreSQL's plans are the tests below")

    statement, parameters, _ = _claim(clean_database)
    plan = _sqlite_plan(clean_database, statement, parameters)
    assert plan == [
        "SEARCH mail_message USING INDEX ix_mail_message_due (status=? AND next_attempt_at<?)"
    ], plan


def test_postgresql_claims_mail_in_the_order_of_its_index_once_it_has_statistics(
    clean_database: Database,
):
    # Where autovacuum gathers statistics (production), the claim by id walked the ids past
    # every mail ever sent; in due order it reads the due index and stops at the limit.
    if clean_database.is_sqlite:
        pytest.skip("PostgreSQL's planner; SQLite's plan is the test above")
    with clean_database.engine.connect() as connection:
        _queue_mail(
            connection,
            20000,
            status="CASE WHEN n <= 10000 THEN 'sent' ELSE 'pending' END",
            due="now() - interval '1 hour' + n * interval '10 ms'",
        )
        connection.exec_driver_sql("ANALYZE mail_message")
        connection.commit()

    statement, parameters, claimed = _claim(clean_database)
    assert claimed == 100
    with clean_database.engine.connect() as connection:
        plan = "\n".join(
            row[0] for row in connection.exec_driver_sql("EXPLAIN ANALYZE " + statement, parameters)
        )
        connection.rollback()
    assert "Index Scan using ix_mail_message_due" in plan, plan
    assert "pk_mail_message" not in plan and "Bitmap" not in plan and "Sort" not in plan, plan


def test_postgresql_claims_mail_in_index_order_before_it_has_statistics(
    clean_database: Database,
):
    # Before the outbox's first ANALYZE (a new database; every database on a server with
    # autovacuum off, as the benchmark's), the planner guesses a handful of due rows, reads
    # every pending mail in a bitmap and sorts them all, per claim: 37 ms with 60,000 queued,
    # a fifth of the mail drain's time. In the due index's order the read stops at the batch.
    # Mail queued in bursts shares its due time (one group-commit batch, a round of
    # reminders): the index must give the order by id within a due time, too.
    if clean_database.is_sqlite:
        pytest.skip("PostgreSQL's planner; SQLite's plan is a test above")
    with clean_database.engine.connect() as connection:
        # Statistics gathered by the tests before this one, forgotten: never analyzed.
        connection.exec_driver_sql(
            "DELETE FROM pg_statistic WHERE starelid = 'mail_message'::regclass"
        )
        connection.exec_driver_sql("TRUNCATE mail_message")
        _queue_mail(
            connection,
            20000,
            status="'pending'",
            due="now() - interval '1 hour' + (n / 5000) * interval '1 s'",
        )
        connection.commit()

    statement, parameters, claimed = _claim(clean_database)
    assert claimed == 100
    with clean_database.session(write=True) as session:
        # The plan as the worker's transaction makes it.
        with mail.claim_planning(session):
            rows = session.connection().exec_driver_sql("EXPLAIN " + statement, parameters)
            plan = "\n".join(row[0] for row in rows)
        session.rollback()
    assert "Index Scan using ix_mail_message_due" in plan, plan
    assert "Sort" not in plan and "Bitmap" not in plan, plan


def test_postgresql_plans_a_prepared_statement_for_the_table_as_it_has_grown(
    clean_database: Database,
):
    if clean_database.is_sqlite:
        pytest.skip("PostgreSQL's plan cache; SQLite's plans are the test above")
    hashes = [f"{n:064x}" for n in range(16)]
    window = dt.timedelta(days=1)
    # One connection, so one server session: the driver prepares a statement it has run a few
    # times (psycopg's prepare_threshold), and the plan is that session's.
    with clean_database.engine.connect() as connection:
        connection.exec_driver_sql("TRUNCATE mail_message")  # an empty file: a tiny table
        connection.commit()
        for _ in range(12):
            assert mail.recent_counts(Session(bind=connection), hashes, window) == {}
            connection.commit()
        _mail_many_recipients(connection, 20000)
        connection.commit()
        (name,) = connection.exec_driver_sql(
            "SELECT name FROM pg_prepared_statements WHERE starts_with(statement, %s)",
            ("SELECT mail_message.recipient_hash, count(*)",),
        ).one()
        # The recipients are one parameter, an array (api.mail.service._OneOf).
        recipients = "ARRAY[" + ", ".join(f"'{h}'" for h in hashes) + "]::varchar[]"
        arguments = f"{recipients}, now() - interval '1 day'"
        plan = "\n".join(
            row[0] for row in connection.exec_driver_sql(f"EXPLAIN EXECUTE {name}({arguments})")
        )
    assert "Seq Scan" not in plan, plan
    assert "ix_mail_message_recipient" in plan, plan


def _mail_many_recipients(connection: Any, rows: int) -> None:
    """`rows` sent mails in PostgreSQL, each to a recipient of its own, all within the cap's
    window."""
    connection.exec_driver_sql(
        "INSERT INTO mail_message (template, locale, to_address, payload, recipient_hash, "
        "status, attempts, next_attempt_at, created_at) "
        "SELECT 'confirm', 'en', 'x' || n || '@example.org', '{}', md5(n::text) || "
        f"md5((n + 1)::text), 'sent', 1, now(), now() FROM generate_series(1, {rows}) n"
    )


def test_postgresql_reads_signings_mail_cap_by_its_index(client, clean_database: Database):
    """Signing reads the cap's counts in the petition's query (api.petitions.taking): the
    outbox is searched by recipient there too, not read whole."""
    if clean_database.is_sqlite:
        pytest.skip("PostgreSQL's planner; SQLite's plans are the first test")
    app_database: Database = client.app.state.database
    with app_database.engine.connect() as connection:
        _mail_many_recipients(connection, 20000)
        connection.commit()

    def sign() -> None:
        assert client.post(SIGN_URL, json=signer(email="one@example.org")).status_code == 202

    (found,) = [seen for seen in _statements(app_database, sign) if "recent_mail" in seen[0]]
    with app_database.engine.connect() as connection:  # the app's settings: custom plans
        plan = "\n".join(
            row[0] for row in connection.exec_driver_sql("EXPLAIN " + found[0], found[1])
        )
    assert "ix_mail_message_recipient" in plan, plan
    assert "Seq Scan on mail_message" not in plan, plan
