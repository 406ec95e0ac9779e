"""Group commit: many units of work, few transactions, each unit all-or-nothing."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.abuse.models import BlockedEmailDomain
from api.availability import RETRY_AFTER_SECONDS, DependencyUnavailable
from api.batchwork import Batchable
from api.db import Database
from api.groupcommit import GroupCommitter
from tests.databases import statements_sent, unreachable_settings


def _domains(database: Database, prefix: str) -> set[str]:
    with database.session() as session:
        rows = session.exec(
            select(BlockedEmailDomain.domain).where(
                col(BlockedEmailDomain.domain).startswith(prefix)
            )
        ).all()
    return set(rows)


def _add(domain: str):
    def work(session: Session) -> str:
        session.add(BlockedEmailDomain(domain=domain, reason="test"))
        session.flush()
        return domain

    return work


@pytest.fixture
def committer(clean_database: Database):
    committer = GroupCommitter(clean_database)
    yield committer
    committer.close()


def _hold_writer(committer: GroupCommitter) -> threading.Event:
    """Occupy the writer thread until the returned event is set, so what is submitted
    meanwhile lands in one batch."""
    release = threading.Event()
    started = threading.Event()

    def wait(session: Session) -> None:
        started.set()
        release.wait(10)

    committer.submit(wait)
    assert started.wait(10)
    return release


def test_concurrent_units_are_all_stored_in_fewer_transactions(
    committer: GroupCommitter, clean_database: Database
) -> None:
    names = [f"gc-many-{i}.example" for i in range(200)]
    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(lambda name: committer.run_sync(_add(name)), names))
    assert results == names
    assert _domains(clean_database, "gc-many-") == set(names)
    assert committer.units == 200
    assert committer.batches < 200


def test_a_failing_unit_leaves_no_trace_and_its_batch_commits(
    committer: GroupCommitter, clean_database: Database
) -> None:
    release = _hold_writer(committer)

    def add_then_fail(session: Session) -> None:
        session.add(BlockedEmailDomain(domain="gc-bad-1.example", reason="test"))
        session.flush()
        raise ValueError("refused")

    first = committer.submit(_add("gc-ok-1.example"))
    failing = committer.submit(add_then_fail)
    duplicate = committer.submit(_add("gc-ok-1.example"))  # unique violation inside the batch
    last = committer.submit(_add("gc-ok-2.example"))
    batches_before = committer.batches
    release.set()

    assert first.result(10) == "gc-ok-1.example"
    assert last.result(10) == "gc-ok-2.example"
    with pytest.raises(ValueError, match="refused"):
        failing.result(10)
    with pytest.raises(IntegrityError):
        duplicate.result(10)
    assert _domains(clean_database, "gc-") == {"gc-ok-1.example", "gc-ok-2.example"}
    assert committer.batches == batches_before + 2  # the holding unit's batch, then these four


class _TurnHeld(GroupCommitter):
    """A committer whose writer, once it has a batch, waits for its turn until let through:
    as on SQLite while another process's writer holds the lock."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.waiting = threading.Event()
        self.let_through = threading.Event()

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        self.waiting.set()
        assert self.let_through.wait(10)
        with super()._turn():
            yield


def test_units_queued_while_the_writer_waits_for_its_turn_join_its_batch(
    clean_database: Database,
) -> None:
    committer = _TurnHeld(clean_database)
    try:
        first = committer.submit(_add("gc-turn-0.example"))
        assert committer.waiting.wait(10)  # the writer has taken the first unit, and waits
        later = [committer.submit(_add(f"gc-turn-{i}.example")) for i in range(1, 6)]
        committer.let_through.set()
        assert [f.result(10) for f in (first, *later)] == [f"gc-turn-{i}.example" for i in range(6)]
        # One transaction for all six: the five did not wait for another round of the lock.
        assert (committer.batches, committer.units) == (1, 6)
    finally:
        committer.let_through.set()
        committer.close()


def test_async_callers_are_answered_after_the_commit(
    committer: GroupCommitter, clean_database: Database
) -> None:
    async def sign_many() -> list[str]:
        return list(
            await asyncio.gather(*(committer.run(_add(f"gc-async-{i}.example")) for i in range(50)))
        )

    names = asyncio.run(sign_many())
    # Each answer came after its commit: a new session sees every row.
    assert _domains(clean_database, "gc-async-") == set(names)


def test_a_batch_of_async_callers_is_answered_with_one_call_into_their_loop(
    committer: GroupCommitter, clean_database: Database
) -> None:
    """Every call into a busy event loop from the writer is a write to its wake-up socket (a
    system call that hands the GIL over): a batch's callers are answered with one, not one
    each. A failing unit among them still gets its own error."""
    release = _hold_writer(committer)

    def fail(session: Session) -> str:
        raise ValueError("this unit fails alone")

    async def callers() -> tuple[list[object], int]:
        loop = asyncio.get_running_loop()
        calls = 0
        call_soon_threadsafe = loop.call_soon_threadsafe

        def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            return call_soon_threadsafe(*args, **kwargs)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        works = [_add(f"gc-loop-{i}.example") for i in range(20)]
        works.insert(7, fail)
        waiting = [asyncio.ensure_future(committer.run(work)) for work in works]
        await asyncio.sleep(0.05)  # all queued behind the held writer
        release.set()
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        return outcomes, calls

    batches_before = committer.batches
    outcomes, calls = asyncio.run(callers())
    assert isinstance(outcomes.pop(7), ValueError)
    assert outcomes == [f"gc-loop-{i}.example" for i in range(20)]
    assert _domains(clean_database, "gc-loop-") == set(outcomes)
    # The 21 units were written in one batch after the held one, or a few if the writer
    # began before all were queued; the loop was called once a batch.
    batches = committer.batches - batches_before - 1
    assert batches >= 1
    assert calls == batches


def test_a_unit_queued_behind_a_stuck_batch_is_answered_503_and_never_run(
    clean_database: Database,
) -> None:
    """A writer stuck on a database that does not answer: the units queued behind it are
    answered within `queue_seconds`, not after the stuck batch's timeouts and then their own;
    the one the writer already holds gets its own outcome."""
    committer = GroupCommitter(clean_database, queue_seconds=0.3)
    try:
        release = _hold_writer(committer)

        async def queued() -> tuple[str, float]:
            started = time.monotonic()
            with pytest.raises(DependencyUnavailable) as refused:
                await committer.run(_add("gc-queued.example"))
            assert refused.value.headers == {"Retry-After": str(RETRY_AFTER_SECONDS)}
            return refused.value.dependency, time.monotonic() - started

        dependency, waited = asyncio.run(queued())
        assert dependency == "database"
        assert 0.3 <= waited < 2.0
        release.set()
        # The writer goes on: the unit given up was skipped, never written.
        assert committer.run_sync(_add("gc-after.example")) == "gc-after.example"
        assert _domains(clean_database, "gc-") == {"gc-after.example"}
        # A unit answered in time is not given up.
        assert asyncio.run(committer.run(_add("gc-quick.example"))) == "gc-quick.example"
    finally:
        committer.close()


def test_a_caller_cancelled_as_the_watchdog_gives_up_stays_cancelled(
    clean_database: Database,
) -> None:
    """The caller's own cancellation (a client gone, a timeout, shutdown) is not turned into
    a 503, even when the watchdog marks the unit in the same instant."""
    committer = GroupCommitter(clean_database, queue_seconds=30)
    try:
        release = _hold_writer(committer)

        async def cancelled() -> None:
            task = asyncio.create_task(committer.run(_add("gc-cancelled.example")))
            await asyncio.sleep(0.05)  # queued behind the held writer
            _, future = committer._deadlines[-1]
            future.given_up = True  # the watchdog's mark, just before the caller's cancel
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(cancelled())
        release.set()
        assert committer.run_sync(_add("gc-after.example")) == "gc-after.example"
        assert _domains(clean_database, "gc-") == {"gc-after.example"}
    finally:
        committer.close()


def test_close_finishes_queued_units_and_a_later_unit_starts_a_new_writer(
    committer: GroupCommitter, clean_database: Database
) -> None:
    release = _hold_writer(committer)
    queued = [committer.submit(_add(f"gc-close-{i}.example")) for i in range(5)]
    release.set()
    committer.close()
    assert [f.result(10) for f in queued] == [f"gc-close-{i}.example" for i in range(5)]
    assert committer.run_sync(_add("gc-late.example")) == "gc-late.example"
    assert "gc-late.example" in _domains(clean_database, "gc-")


def test_a_unit_failing_when_its_savepoint_is_released_gets_its_own_error(
    committer: GroupCommitter, clean_database: Database
) -> None:
    # No explicit flush: the ORM flushes the duplicate at RELEASE SAVEPOINT, after the work
    # has returned. That unit alone fails; the others are answered and stored.
    release = _hold_writer(committer)

    def add_unflushed(session: Session) -> str:
        session.add(BlockedEmailDomain(domain="gc-release-1.example", reason="test"))
        return "added"

    first = committer.submit(_add("gc-release-1.example"))
    duplicate = committer.submit(add_unflushed)
    last = committer.submit(_add("gc-release-2.example"))
    release.set()

    assert first.result(10) == "gc-release-1.example"
    with pytest.raises(IntegrityError):
        duplicate.result(10)
    assert last.result(10) == "gc-release-2.example"
    assert _domains(clean_database, "gc-release-") == {
        "gc-release-1.example",
        "gc-release-2.example",
    }
    assert committer.run_sync(_add("gc-release-3.example")) == "gc-release-3.example"


def test_a_database_that_cannot_be_reached_fails_the_waiting_units(tmp_path) -> None:
    # Regression: when the batch failed before its units started (BEGIN refused, or the
    # database known to be down), their futures were never resolved: each signer waited
    # forever instead of getting a 503.
    from sqlalchemy.exc import OperationalError

    from api.availability import DependencyUnavailable

    database = Database(unreachable_settings(tmp_path))
    committer = GroupCommitter(database)
    try:
        first = committer.submit(_add("first.example")).exception(timeout=10)
        assert first is not None and database.availability.failure_of(first)
        database.availability.failed(OperationalError("SELECT 1", {}, Exception("refused")))
        futures = [committer.submit(_add(f"down{i}.example")) for i in range(3)]
        for future in futures:
            assert isinstance(future.exception(timeout=10), DependencyUnavailable)
    finally:
        committer.close()
        database.dispose()


# --- batched units (Batchable) -------------------------------------------------------------


def _add_many(calls: list[list[str]]) -> Batchable[str, str]:
    """A Batchable that adds many domains in one flush; names ending in `.refused` are
    answered with their own error, and a name starting with `boom` breaks the whole run."""

    def many(session: Session, names: list[str]) -> list[str | BaseException]:
        calls.append(list(names))
        if any(name.startswith("boom") for name in names):
            raise RuntimeError("the run as a whole failed")
        kept = [name for name in names if not name.endswith(".refused")]
        session.add_all(BlockedEmailDomain(domain=name, reason="test") for name in kept)
        session.flush()
        if any(name.startswith("late-boom") for name in names):
            raise RuntimeError("the run failed after writing its rows")
        return [ValueError(name) if name.endswith(".refused") else name for name in names]

    def one(session: Session, name: str) -> str:
        if "boom" in name:
            raise ValueError(name)
        return _add(name)(session)

    return Batchable("add-domains", one=one, many=many)


def test_neighbouring_batched_units_are_written_together_each_with_its_outcome(
    committer: GroupCommitter, clean_database: Database
) -> None:
    calls: list[list[str]] = []
    kind = _add_many(calls)
    release = _hold_writer(committer)
    names = ("gb-1.example", "gb-2.example", "gb-3.refused", "gb-4.example")
    futures = [committer.submit_batched(kind, name) for name in names]
    release.set()
    assert [futures[i].result(10) for i in (0, 1, 3)] == [names[0], names[1], names[3]]
    with pytest.raises(ValueError, match=r"gb-3\.refused"):
        futures[2].result(10)
    assert calls == [list(names)]
    assert _domains(clean_database, "gb-") == {"gb-1.example", "gb-2.example", "gb-4.example"}


@pytest.mark.parametrize(
    ("prefix", "failing"),
    [
        ("gf", "boom.example"),  # the run fails before it writes
        ("gw", "late-boom.example"),  # after writing its rows: they are rolled back
    ],
)
def test_a_failed_run_is_undone_and_its_units_run_one_by_one(
    committer: GroupCommitter, clean_database: Database, prefix: str, failing: str
) -> None:
    calls: list[list[str]] = []
    kind = _add_many(calls)
    release = _hold_writer(committer)
    names = (f"{prefix}-1.example", failing, f"{prefix}-2.example")
    futures = [committer.submit_batched(kind, name) for name in names]
    release.set()
    assert futures[0].result(10) == names[0]
    assert futures[2].result(10) == names[2]
    with pytest.raises(ValueError, match=failing.replace(".", r"\.")):
        futures[1].result(10)
    assert len(calls) == 1  # tried together once, then one by one
    assert _domains(clean_database, f"{prefix}-") == {names[0], names[2]}
    assert _domains(clean_database, failing.partition(".")[0]) == set()


def test_a_plain_unit_between_batched_ones_keeps_its_place(
    committer: GroupCommitter, clean_database: Database
) -> None:
    calls: list[list[str]] = []
    kind = _add_many(calls)
    seen: list[str] = []

    def plain(session: Session) -> None:
        # Sees what was queued before it, and nothing queued after it.
        rows = session.exec(
            select(BlockedEmailDomain.domain).where(
                col(BlockedEmailDomain.domain).startswith("go-")
            )
        ).all()
        seen.extend(sorted(rows))

    release = _hold_writer(committer)
    first = [committer.submit_batched(kind, f"go-{i}.example") for i in (1, 2)]
    middle = committer.submit(plain)
    last = [committer.submit_batched(kind, f"go-{i}.example") for i in (3, 4)]
    release.set()
    for future in (*first, middle, *last):
        future.result(10)
    assert calls == [["go-1.example", "go-2.example"], ["go-3.example", "go-4.example"]]
    assert seen == ["go-1.example", "go-2.example"]


def test_a_batch_of_one_run_alone_is_written_without_a_savepoint(
    committer: GroupCommitter, clean_database: Database
) -> None:
    calls: list[list[str]] = []
    kind = _add_many(calls)
    release = _hold_writer(committer)
    names = ("gl-1.example", "gl-2.refused", "gl-3.example")
    futures = [committer.submit_batched(kind, name) for name in names]
    with statements_sent(clean_database) as sent:
        release.set()
        assert futures[0].result(10) == "gl-1.example"
        assert futures[2].result(10) == "gl-3.example"
        with pytest.raises(ValueError, match=r"gl-2\.refused"):
            futures[1].result(10)
    assert calls == [list(names)]
    assert _domains(clean_database, "gl-") == {"gl-1.example", "gl-3.example"}
    assert [s for s in sent if "SAVEPOINT" in s.upper()] == []
