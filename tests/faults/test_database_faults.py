"""The database down, hung, full, and the server killed: acknowledged signatures are kept
exactly once, every request gets an answer (503 problem+json with Retry-After while the
database is out), the log says so once, and the service recovers by itself."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from tests.faults.cluster import PostgresCluster
from tests.faults.conftest import PROBLEM, SLUG, Load, Service, assert_clean_503s, wait_for

# Short timeouts so a hung database is given up on quickly in the tests.
FAST_TIMEOUTS = {
    "DB_CONNECT_TIMEOUT_SECONDS": "2",
    "DB_STATEMENT_TIMEOUT_SECONDS": "2",
    "RESPONSE_CACHE_SECONDS": "0",  # every read reaches the database
    "COUNT_CACHE_SECONDS": "0",
}
READS = ("/v1/facts?limit=5", f"/v1/petitions/{SLUG}", "/readyz")


def _stored_once(service: Service, emails: set[str], label: str) -> None:
    rows = service.scalar(
        "SELECT COUNT(*) FROM signature WHERE email LIKE :pattern", pattern=f"{label}.%"
    )
    distinct = service.scalar(
        "SELECT COUNT(DISTINCT email) FROM signature WHERE email LIKE :pattern",
        pattern=f"{label}.%",
    )
    assert rows == distinct, "a signature was stored twice"
    missing = [
        email
        for email in sorted(emails)[:: max(1, len(emails) // 50)]  # a sample, one query each
        if service.scalar("SELECT COUNT(*) FROM signature WHERE email = :e", e=email) != 1
    ]
    assert not missing, f"acknowledged but not stored: {missing[:5]}"
    assert rows >= len(emails)
    mails = service.scalar(
        "SELECT COUNT(*) FROM mail_message WHERE to_address LIKE :pattern", pattern=f"{label}.%"
    )
    assert mails == rows, f"{mails} confirmation mails queued for {rows} signatures"


def _incident_lines(service: Service) -> tuple[list[str], list[str], list[str]]:
    lines = service.log_lines()
    down = [line for line in lines if "database unavailable" in line]
    back = [line for line in lines if "database available again" in line]
    tracebacks = [line for line in lines if "Traceback" in line]
    return down, back, tracebacks


def _readyz(service: Service) -> httpx.Response:
    return httpx.get(service.base_url + "/readyz", timeout=10)


def test_postgres_stopped_answers_503_then_recovers(
    pg_cluster: PostgresCluster, pg_database: str, start_service: Callable[..., Service]
) -> None:
    service = start_service(pg_database, **FAST_TIMEOUTS)
    load = Load(service.base_url, read_paths=READS, max_requests=4000).start()
    time.sleep(1.0)
    pg_cluster.stop("immediate")
    time.sleep(1.0)
    during = _readyz(service)
    time.sleep(2.0)
    pg_cluster.start()
    pg_cluster.wait_ready()
    wait_for(lambda: _readyz(service).status_code == 200, 15, "/readyz 200 after the restart")
    time.sleep(0.5)
    outcomes = load.stop()

    assert during.status_code == 503
    assert during.headers["content-type"] == PROBLEM
    assert during.headers["retry-after"].isdigit()
    assert during.json()["dependencies"]["database"] == "down"
    unavailable = assert_clean_503s(outcomes, {200, 202})
    assert unavailable, "no request saw the outage"
    signed = [o for o in outcomes if o.email and o.status == 503]
    assert signed, "no signature request saw the outage"
    assert outcomes[-1].status in (200, 202)
    _stored_once(service, load.acknowledged(), load.label)

    down, back, tracebacks = _incident_lines(service)
    assert len(down) == 1, down
    assert len(back) == 1, back
    assert not tracebacks


def test_postgres_frozen_answers_503_within_the_timeouts(
    pg_cluster: PostgresCluster, pg_database: str, start_service: Callable[..., Service]
) -> None:
    service = start_service(pg_database, **FAST_TIMEOUTS)
    load = Load(service.base_url, read_paths=READS, max_requests=4000).start()
    time.sleep(1.0)
    pg_cluster.freeze()
    try:
        time.sleep(1.0)
        started = time.monotonic()
        during = _readyz(service)
        readyz_seconds = time.monotonic() - started
        time.sleep(4.0)
    finally:
        pg_cluster.thaw()
    wait_for(lambda: _readyz(service).status_code == 200, 20, "/readyz 200 after SIGCONT")
    time.sleep(0.5)
    outcomes = load.stop()

    assert during.status_code == 503
    assert during.json()["dependencies"]["database"] == "down"
    assert readyz_seconds < 4.5  # each probe has 3 s
    unavailable = assert_clean_503s(outcomes, {200, 202})
    assert unavailable, "no request saw the freeze"
    # At worst: a pooled connection that stops answering (2 s statement timeout + 2 s client
    # grace), then a new connection that is not accepted (2 s connect timeout). Never the
    # freeze's length, never queueing behind it.
    slow = sorted(outcomes, key=lambda o: -o.seconds)[:5]
    assert slow[0].seconds < 7.5, f"slowest requests: {slow}"
    _stored_once(service, load.acknowledged(), load.label)

    down, back, tracebacks = _incident_lines(service)
    assert len(down) == 1, down
    assert len(back) == 1, back
    assert not tracebacks
