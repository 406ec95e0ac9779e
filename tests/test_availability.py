"""A database that is down answers 503 problem+json with Retry-After (never a 500), logged
once per outage; a circuit breaker keeps requests from each waiting out a timeout."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from api.availability import DependencyState, DependencyUnavailable
from api.db import Database, is_database_outage
from api.main import create_app
from tests.databases import unreachable_settings
from tests.test_errors import assert_problem


def _outage() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("connection refused"))


def _state() -> DependencyState:
    return DependencyState("database", is_database_outage, trial_seconds=0.2)


def test_an_outage_is_logged_once_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    state = _state()
    with caplog.at_level(logging.WARNING, logger="api.availability"):
        for _ in range(50):
            state.failed(_outage())
        state.recovered()
        state.recovered()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0] == "database unavailable: Exception: connection refused"
    assert "available again" in lines[1] and "50 requests" in lines[1]


def test_while_down_one_call_a_trial_period_is_let_through() -> None:
    state = _state()
    state.admit()  # up: everyone
    state.failed(_outage())
    with pytest.raises(DependencyUnavailable):
        state.admit()
    time.sleep(0.25)
    state.admit()  # the trial
    with pytest.raises(DependencyUnavailable):
        state.admit()
    state.recovered()
    state.admit()


def test_an_outage_of_writes_lets_reads_through() -> None:
    # SQLite on a full disk: reads work; they neither wait nor end the outage.
    state = _state()
    state.failed(_outage(), write=True)
    state.admit()
    state.recovered()
    assert state.is_down
    state.failed(DependencyUnavailable("database"), write=True)  # a turned-away call
    time.sleep(0.25)
    state.admit(write=True)
    state.recovered(write=True)
    assert not state.is_down


@pytest.fixture
def unreachable_client(tmp_path) -> TestClient:
    settings = unreachable_settings(tmp_path, rate_limit_enabled=False, response_cache_seconds=0)
    return TestClient(create_app(settings))


def test_reads_and_signing_answer_503_when_the_database_is_unreachable(
    unreachable_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Regression: these were 500 internal-error without Retry-After, one traceback each.
    signer = {
        "first_name": "Ana",
        "last_name": "Lopez",
        "email": "ana@example.org",
        "postal_code": "32801",
        "country": "US",
    }
    with unreachable_client as client, caplog.at_level(logging.WARNING):
        responses = [
            client.get("/v1/facts"),
            client.get("/v1/petitions/florida-minimum-arrest-age-12"),
            client.post("/v1/petitions/florida-minimum-arrest-age-12/signatures", json=signer),
            client.post(
                "/v1/petitions/florida-minimum-arrest-age-12/signatures",
                json=signer,
                headers={"Idempotency-Key": "k-1"},
            ),
        ]
    for response in responses:
        assert_problem(response, 503)
        assert response.json()["type"] == "urn:advocacy:problem:service-unavailable"
        assert response.headers["retry-after"] == "5"
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1


def test_the_mail_worker_logs_an_outage_once_not_a_traceback_a_round(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    from api.db import Database
    from api.mail.worker import MailWorker, backend_for

    settings = unreachable_settings(tmp_path, mail_poll_seconds=0.05)
    database = Database(settings)
    worker = MailWorker(database, settings, backend_for(settings), daily=lambda: 0)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    with caplog.at_level(logging.WARNING):
        thread.start()
        time.sleep(1.5)  # some 20 rounds
        stop.set()
        thread.join(10)
    database.dispose()
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1


def _real_deadlock(database: Database) -> OperationalError:
    """The error PostgreSQL gives the loser of a real deadlock: two transactions, each
    holding a row the other then asks for."""
    ids = [row[0] for row in _execute(database, "SELECT id FROM fact ORDER BY id LIMIT 2")]
    lost: list[BaseException] = []
    first, second = database.engine.connect(), database.engine.connect()
    try:
        lock = "SELECT id FROM fact WHERE id = :id FOR UPDATE"
        first.execute(text(lock), {"id": ids[0]})
        second.execute(text(lock), {"id": ids[1]})

        def first_asks_for_the_second_row() -> None:
            try:
                first.execute(text(lock), {"id": ids[1]})
            except OperationalError as exc:
                lost.append(exc)

        waiting = threading.Thread(target=first_asks_for_the_second_row)
        waiting.start()
        time.sleep(0.3)  # the first is waiting for the second's row
        try:
            second.execute(text(lock), {"id": ids[0]})
        except OperationalError as exc:
            lost.append(exc)
        second.rollback()  # whichever lost, the other goes on
        waiting.join(10)
        first.rollback()
    finally:
        first.close()
        second.close()
    [error] = lost
    assert isinstance(error, OperationalError)
    return error


def _execute(database: Database, sql: str) -> list[Any]:
    with database.engine.connect() as connection:
        return list(connection.execute(text(sql)))


def test_a_lost_deadlock_is_answered_503_without_marking_the_database_down(
    clean_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A transaction that loses a deadlock (two API instances writing one signature's rows in
    crossing order) is retried by its client like an outage (503, Retry-After), but the
    database is fine: the requests of everyone else must not be turned away."""
    if clean_database.is_sqlite:
        pytest.skip("SQLite has one writer at a time: no deadlock between transactions")
    error = _real_deadlock(clean_database)
    state = clean_database.availability  # the app's own: what a request's 503 records in
    assert not state.is_down
    try:
        assert state.failure_of(error)  # answered 503 with Retry-After, as an outage is
        with caplog.at_level(logging.WARNING, logger="api.availability"):
            state.failed(error, write=True)
        assert not state.is_down
        state.admit(write=True)  # the next write is let through
        [line] = [r.getMessage() for r in caplog.records]
        assert "DeadlockDetected" in line and "not an outage" in line
        state.failed(_outage(), write=True)  # an outage still is one
        assert state.is_down
    finally:
        state.recovered(write=True)
