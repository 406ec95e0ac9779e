"""The database down, hung, full, and the server killed: acknowledged signatures are kept
exactly once, every request gets an answer (503 problem+json with Retry-After while the
database is out), the log says so once, and the service recovers by itself."""

from __future__ import annotations

import errno
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.cluster import PostgresCluster
from tests.faults.conftest import PROBLEM, SLUG, Load, Outcome, Service, assert_clean_503s, wait_for

# Short timeouts so a hung database is given up on quickly in the tests.
FAST_TIMEOUTS = {
    "DB_CONNECT_TIMEOUT_SECONDS": "2",
    "DB_STATEMENT_TIMEOUT_SECONDS": "2",
    "RESPONSE_CACHE_SECONDS": "0",  # every read reaches the database
    "COUNT_CACHE_SECONDS": "0",
}
LASTS_PAST_RECOVERY = 100_000
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
    # Enough requests to last past the recovery: answers during the outage are quick 503s,
    # and 4,000 of them could run out before the database came back (seen on a fast machine:
    # the last outcome was then one from the outage, not one after it).
    load = Load(service.base_url, read_paths=READS, max_requests=LASTS_PAST_RECOVERY).start()
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
    assert len(outcomes) < LASTS_PAST_RECOVERY, "the load ran out before the recovery"
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
    # freeze's length, never queueing behind it (a signature queued behind a stuck batch is
    # answered 503 after the statement timeout: api.groupcommit).
    slow = sorted(outcomes, key=lambda o: -o.seconds)[:5]
    assert slow[0].seconds < 7.5, f"slowest requests: {slow}"
    _stored_once(service, load.acknowledged(), load.label)

    down, back, tracebacks = _incident_lines(service)
    assert len(down) == 1, down
    assert len(back) == 1, back
    assert not tracebacks


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_copy")(tmp_path))
    return str(request.getfixturevalue("pg_database"))


def test_kill_9_under_load_keeps_every_acknowledged_signature_once(
    any_database: str, start_service: Callable[..., Service]
) -> None:
    service = start_service(any_database)
    load = Load(service.base_url, threads=8, max_requests=3000).start()
    wait_for(lambda: len(load.acknowledged()) >= 50, 20, "50 signatures acknowledged")
    service.kill()
    outcomes = load.stop()
    acknowledged = load.acknowledged()
    # In flight when the process died: no answer, and that is all that may go unanswered.
    assert all(o.status in (202, None) for o in outcomes), [o for o in outcomes if o.status][:3]

    service.start()
    _stored_once(service, acknowledged, load.label)
    after = Load(service.base_url, threads=2, max_requests=10, label=load.label + "b").start()
    after.finish()
    assert len(after.acknowledged()) == 10
    count = httpx.get(f"{service.base_url}/v1/petitions/{SLUG}/count", timeout=10).json()
    confirmed = service.scalar("SELECT COUNT(*) FROM signature WHERE status = 'confirmed'")
    assert count["verified"] == confirmed


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 24 MB tmpfs of its own (needs the right to mount: root, or CAP_SYS_ADMIN)."""
    mount_point = tmp_path / "small-fs"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).decode(errors="replace").strip()
        pytest.skip(f"cannot mount a small tmpfs here, so no full-disk test: {reason}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    chunk = b"\0" * 65536
    # Unbuffered: a buffered file keeps what the full disk refused, and closing it then tries
    # to write that again and raises ENOSPC out of the `with` (a CI run failed so).
    with open(filler, "wb", buffering=0) as out:
        for _ in range(100_000):  # far more than the filesystem holds
            try:
                out.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                return filler
    raise AssertionError("the filesystem never filled up")


def test_sqlite_on_a_full_disk_answers_503_and_keeps_what_it_acknowledged(
    small_filesystem: Path,
    sqlite_copy: Callable[[Path], str],
    start_service: Callable[..., Service],
) -> None:
    service = start_service(sqlite_copy(small_filesystem))
    before = Load(service.base_url, threads=2, max_requests=20).start()
    before.finish()
    assert len(before.acknowledged()) == 20

    filler = _fill(small_filesystem)
    during = Load(service.base_url, threads=2, max_requests=40, label=before.label + "f")
    during.read_paths = (f"/v1/petitions/{SLUG}",)
    during.start().finish()
    unavailable = assert_clean_503s(during.outcomes, {200, 202})
    assert [o for o in unavailable if o.email], "no signature was refused while the disk was full"
    assert all(o.status == 200 for o in during.outcomes if not o.email), "reads should still work"

    filler.unlink()
    retries: list[Outcome] = []

    def signing_works() -> bool:
        retry = Load(service.base_url, threads=1, max_requests=1, label=f"{before.label}r")
        retry.label += str(len(retries))
        retries.extend(retry.start().finish())
        return retries[-1].status == 202

    wait_for(signing_works, 15, "signing works again once space is freed", retries)
    after = Load(service.base_url, threads=2, max_requests=20, label=before.label + "a").start()
    after.finish()
    assert len(after.acknowledged()) == 20

    for load in (before, during, after):
        _stored_once(service, load.acknowledged(), load.label)
    down, back, tracebacks = _incident_lines(service)
    assert len(down) == 1, down
    assert len(back) == 1, back
    assert not tracebacks
