"""Group commit: the units of work of many concurrent requests, run by one writer thread per
process and committed together, one transaction (and so one fsync) per batch.

Why: on SQLite every commit is a synchronous disk flush (synchronous=FULL) and only one writer
may hold the lock, so one transaction per request caps the signing rate at the disk's flush
rate, and requests that wait for the lock while holding a worker thread can starve the very
request that holds it (it needs a thread to serialise its response and commit): the pool
stalls until the busy timeout. Here a request waits for its result without holding a thread;
one thread takes the lock, runs every waiting unit of work, each inside its own SAVEPOINT (so
one that raises leaves no trace and does not disturb the others), commits once, and only then
answers them all. Durability is unchanged: nobody is answered before the commit that holds
their write has returned.

On PostgreSQL the same batching saves commits and keeps row-lock waits (hot counter rows) off
the request threads.

    committer = GroupCommitter(database)
    result = await committer.run(lambda session: confirm(session, token))       # async code
    result = committer.run_sync(lambda session: ...)                           # threads
    result = await committer.run_batched(SIGNING, SignRequest.of(...))          # see Batchable

A unit that waits in the queue longer than `queue_seconds` (the app gives the statement
timeout) is answered `DependencyUnavailable` (503, Retry-After) and never run: the writer is
then stuck on a database that does not answer, and a request must not wait out that batch's
timeouts and then its own (the writer's own batch is bounded by the driver's timeouts).

Units of one `Batchable` kind that follow each other in a batch are written together: one
statement per table for the run instead of a few per unit (the signing hot path). Each unit
still gets its own outcome; should the run as a whole fail, its units are run again one by one,
each in its own SAVEPOINT, exactly as plain units are. A batch that is one such run and nothing
else (the busy hours: all signing, or all confirming) is written without a SAVEPOINT: should
it fail, the whole transaction is rolled back and its units run again one by one in a new one.
That saves two statements a batch: on SQLite two returns to a GIL the event loop holds, inside
the write lock; on PostgreSQL two round trips.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlmodel import Session

from api import metrics
from api.availability import DependencyUnavailable
from api.batchwork import Batchable, LeanRunFailed, Unit, UnitFuture, outcome_of, run_units
from api.db import Database

logger = logging.getLogger(__name__)

T = TypeVar("T")
ItemT = TypeVar("ItemT")


MAX_BATCH = 128
# One writer per process: SQLite has one writer at a time anyway, and on PostgreSQL, with a
# batch per transaction, more writers only split the batches (measured 2026-12-02, `make
# bench`'s sign scenario on PostgreSQL, 30 s, 2 workers: 4 writers 296/s, 2 writers 416/s,
# 1 writer 531/s, p99 621 / 445 / 355 ms).
WRITERS = 1


_STOP = object()


class GroupCommitter:
    """Writer threads (started on first use) that commit queued units of work in batches.

    Safe to share between threads and event loops; `close()` at shutdown."""

    def __init__(
        self,
        database: Database,
        *,
        max_batch: int = MAX_BATCH,
        writers: int | None = None,
        queue_seconds: float | None = None,
    ) -> None:
        self.database = database
        self.max_batch = max_batch
        self.writers = writers or WRITERS
        self.queue_seconds = queue_seconds
        # (deadline, future) of each unit an async caller waits for, in the order submitted:
        # one watchdog thread gives up on those still queued at their deadline (a timer per
        # request was 3.6% of a signing worker's event-loop samples).
        self._deadlines: deque[tuple[float, UnitFuture[Any]]] = deque()
        self._watchdog: tuple[threading.Thread, threading.Event] | None = None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._lock_path = _sqlite_lock_path(database)
        self._lock_files = threading.local()
        # Observability (and tests): how many batches and units of work were committed.
        self.batches = 0
        self.units = 0

    # --- submitting ------------------------------------------------------------------------

    def submit(self, work: Callable[[Session], T]) -> UnitFuture[T]:
        """Queue a unit of work; the future resolves after its batch commits (or with the
        exception the work raised, or the commit's error)."""
        return self._submit(Unit(work))

    def submit_batched(self, kind: Batchable[ItemT, T], item: ItemT) -> UnitFuture[T]:
        """Queue `kind.one(session, item)`, to be written with its neighbours of one kind."""
        return self._submit(_batched_unit(kind, item))

    async def run(self, work: Callable[[Session], T]) -> T:
        return await self._answer(Unit(work))

    async def run_batched(self, kind: Batchable[ItemT, T], item: ItemT) -> T:
        return await self._answer(_batched_unit(kind, item))

    def _submit(self, job: Unit[T]) -> UnitFuture[T]:
        with self._lock:
            if not self._threads:
                self._threads = [
                    threading.Thread(target=self._run, name=f"group-commit-{i}", daemon=True)
                    for i in range(self.writers)
                ]
                for thread in self._threads:
                    thread.start()
                if self.queue_seconds is not None:
                    stop = threading.Event()
                    watchdog = threading.Thread(
                        target=self._watch_deadlines,
                        args=(stop,),
                        name="group-commit-watchdog",
                        daemon=True,
                    )
                    watchdog.start()
                    self._watchdog = (watchdog, stop)
            self._queue.put(job)
        return job.future

    async def _answer(self, job: Unit[T]) -> T:
        """Queue the unit and wait for its outcome; DependencyUnavailable if it was still
        queued `queue_seconds` after it was submitted (it is then cancelled: the writer skips
        it, nothing is written).

        The caller waits on an asyncio future of its own loop, which the writer answers with
        the rest of its batch in one call into the loop (`_answer_waiters`). With
        `asyncio.wrap_future` each unit cost a call into the loop, and so a write to its
        wake-up socket: a system call that lets go of the GIL for the event loop to take, 25
        times a batch while the loop is busy."""
        future = job.future
        waiter = future.waiter = asyncio.get_running_loop().create_future()
        self._submit(job)
        if self.queue_seconds is not None:
            self._deadlines.append((time.monotonic() + self.queue_seconds, future))
        try:
            return await waiter
        except asyncio.CancelledError:
            # A unit its caller no longer waits for is skipped if the writer has not begun it.
            future.cancel()
            task = asyncio.current_task()
            # The caller's own cancellation (a client gone, a timeout, shutdown) stays one,
            # even if the watchdog reached the unit in the same instant.
            if future.given_up and not (task is not None and task.cancelling()):
                raise DependencyUnavailable("database") from None
            raise

    def _watch_deadlines(self, stop: threading.Event) -> None:
        assert self.queue_seconds is not None
        while not stop.wait(self.queue_seconds / 8):
            try:
                self._give_up_overdue(time.monotonic())
            except Exception:  # never let the watchdog die silently: the queue would grow
                logger.exception("group commit's queue watchdog")

    def _give_up_overdue(self, now: float) -> None:
        deadlines = self._deadlines
        given_up: list[UnitFuture[Any]] = []
        while deadlines:
            deadline, future = deadlines[0]
            if deadline > now and not future.done():
                break  # the later ones are due later still
            deadlines.popleft()
            if not future.done():
                future.given_up = True
                if future.cancel():
                    given_up.append(future)
                else:  # the writer took it first: it gets its outcome
                    future.given_up = False
        _answer_waiters(given_up)

    def run_sync(self, work: Callable[[Session], T]) -> T:
        return self.submit(work).result()

    def close(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then stop the threads (at shutdown). A later submit starts
        new ones, as when an app is started again."""
        with self._lock:
            threads, self._threads = self._threads, []
            for _ in threads:
                self._queue.put(_STOP)
            if self._watchdog is not None:
                watchdog, stop = self._watchdog
                stop.set()
                threads.append(watchdog)
                self._watchdog = None
        for thread in threads:
            thread.join(timeout)

    # --- the writer thread -----------------------------------------------------------------

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """On SQLite, the writers of several processes queue on a lock file before BEGIN
        IMMEDIATE: a blocked flock() wakes as soon as the holder is done, where SQLite's busy
        handler polls with sleeps of up to 100 ms (measured: 2 workers signed at 233/s with
        polling, fewer than 1 worker). Writers outside group commit still use busy_timeout."""
        if self._lock_path is None:
            yield
            return
        # Each writer thread keeps its own open lock file (a flock is held by an open file,
        # so threads sharing one would not exclude each other): opening and closing it for
        # every batch was 2% of a writer's time.
        lock_file = getattr(self._lock_files, "file", None)
        if lock_file is None:
            lock_file = self._lock_files.file = open(self._lock_path, "a")  # noqa: SIM115
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _run(self) -> None:
        try:
            stopping = False
            while not stopping:
                first = self._queue.get()
                if first is _STOP:
                    return
                batch: list[Unit[Any]] = [first]
                stopping = self._take_queued(batch)
                stopping = self._commit(batch, stopping) or stopping
        finally:
            lock_file = getattr(self._lock_files, "file", None)
            if lock_file is not None:
                lock_file.close()

    def _take_queued(self, batch: list[Unit[Any]]) -> bool:
        """Add what is queued to `batch`, up to `max_batch`; True if the stop sign was in it."""
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is _STOP:
                return True
            batch.append(item)
        return False

    def _commit(self, batch: list[Unit[Any]], stopping: bool = False) -> bool:
        """Run and commit `batch`, with whatever else was queued by the time this writer's turn
        came (on SQLite, while the other processes' writers held the lock: those requests
        would otherwise wait a whole round more). True if the stop sign was taken then."""
        outcomes: dict[Unit[Any], tuple[bool, Any]] = {}
        # Turn: waiting for the write lock and BEGIN; work: the units; commit: to the disk.
        started = time.perf_counter()
        turn_taken = work_done = started
        try:
            with self._turn():
                try:
                    with self.database.session(write=True) as session:
                        turn_taken = time.perf_counter()
                        if not stopping:
                            stopping = self._take_queued(batch)
                        run_units(session, batch, outcomes, self.database.availability.failure_of)
                        work_done = time.perf_counter()
                except LeanRunFailed as failed:
                    # Nothing of the batch stands: its units again, each in its own SAVEPOINT.
                    outcomes.clear()
                    with self.database.session(write=True) as session:
                        outcomes.update((job, outcome_of(session, job)) for job in failed.jobs)
                        work_done = time.perf_counter()
        except Exception as exc:
            # The commit (or BEGIN) failed: nothing in this batch was stored. The waiting
            # requests get the error (an outage becomes their 503); the thread carries on.
            availability = self.database.availability
            # A unit that lost the connection leaves the transaction unusable, and the
            # commit's own error then only says so: the unit's error says why.
            lost = [v for ok, v in outcomes.values() if not ok]
            exc = next((e for e in lost if availability.failure_of(e)), exc)
            if availability.failure_of(exc):
                availability.failed(exc, write=True)  # logged once per outage
            else:
                logger.warning(
                    "group commit of %d units failed: %s", len(batch), type(exc).__name__
                )
            for job in batch:
                if job.future.done():  # cancelled by its caller
                    continue
                # Units the batch never reached (BEGIN failed) are not running yet: every
                # waiting request gets the error, none waits forever.
                if job.future.running() or job.future.set_running_or_notify_cancel():
                    job.future.set_exception(exc)
            _answer_waiters(job.future for job in batch)
            return stopping
        committed = time.perf_counter()
        with self._lock:
            self.batches += 1
            self.units += len(batch)
        metrics.GROUP_COMMIT_BATCH.observe(len(batch))
        turn, work, commit = metrics.GROUP_COMMIT_PHASES
        turn.observe(turn_taken - started)
        work.observe(work_done - turn_taken)
        commit.observe(committed - work_done)
        for job, (ok, value) in outcomes.items():
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
        _answer_waiters(job.future for job in outcomes)
        return stopping


def _batched_unit(kind: Batchable[ItemT, T], item: ItemT) -> Unit[T]:
    return Unit(lambda session: kind.one(session, item), kind=kind, item=item)


def _answer_waiters(futures: Iterable[UnitFuture[Any]]) -> None:
    """Copy the outcomes of finished units into their async callers' waiters: one call into
    each event loop for them all (from the writer, or the watchdog)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[UnitFuture[Any]]] = {}
    for future in futures:
        if future.waiter is not None:
            by_loop.setdefault(future.waiter.get_loop(), []).append(future)
    for loop, answered in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_copy_outcomes, answered)


def _copy_outcomes(futures: list[UnitFuture[Any]]) -> None:
    """In the event loop: each finished unit's outcome into its waiter."""
    for future in futures:
        waiter = future.waiter
        assert waiter is not None
        if waiter.done():  # its caller was cancelled
            continue
        if future.cancelled():
            waiter.cancel()
        elif (exc := future.exception()) is not None:
            waiter.set_exception(exc)
        else:
            waiter.set_result(future.result())


def _sqlite_lock_path(database: Database) -> str | None:
    url = database.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return url.database + "-groupcommit.lock"


async def get_group_committer(request: Request) -> GroupCommitter:
    """The app's committer (async, so resolving it costs no worker thread)."""
    committer: GroupCommitter = request.app.state.group_commit
    return committer


GroupCommit = Annotated[GroupCommitter, Depends(get_group_committer)]
