"""A group-commit batch's units of work, run in one transaction (api.groupcommit): plain
units each in its own SAVEPOINT, neighbours of one `Batchable` kind written together, and a
batch that is one such run alone written without a SAVEPOINT."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlmodel import Session

# Its lines are group commit's, logged under its name.
logger = logging.getLogger("api.groupcommit")

T = TypeVar("T")
ItemT = TypeVar("ItemT")


@dataclass(frozen=True, eq=False)
class Batchable(Generic[ItemT, T]):
    """A kind of unit of work that can be written for many requests at once.

    `many(session, items)` returns one outcome per item, in order: its result, or the
    exception (an instance) that item alone is answered with. An item given an exception must
    have written nothing; anything `many` raises undoes the whole run, whose items are then
    run through `one(session, item)`, each in its own SAVEPOINT.
    """

    name: str
    one: Callable[[Session, ItemT], T]
    many: Callable[[Session, list[ItemT]], list[T | BaseException]]


class UnitFuture(Future[T]):
    """A unit's outcome; `given_up` when the queue's watchdog cancelled it (queue_seconds).

    `waiter` is the asyncio future an async caller awaits instead (GroupCommitter.run): group
    commit copies the outcome into it, with one call into each event loop for a whole batch."""

    given_up = False
    waiter: asyncio.Future[T] | None = None


@dataclass(eq=False)
class Unit(Generic[T]):
    work: Callable[[Session], T]
    future: UnitFuture[T] = field(default_factory=UnitFuture)
    kind: Batchable[Any, T] | None = None
    item: Any = None


class LeanRunFailed(Exception):
    """A batch's one run, written without a SAVEPOINT, failed as a whole (not for an outage):
    the transaction is rolled back whole, and `jobs` run again one by one."""

    def __init__(self, jobs: list[Unit[Any]]) -> None:
        super().__init__(f"a run of {len(jobs)} units")
        self.jobs = jobs


def run_units(
    session: Session,
    batch: list[Unit[Any]],
    outcomes: dict[Unit[Any], Any],
    is_outage: Callable[[BaseException], bool],
) -> None:
    """Run the batch's units in `session`, in order, each one's outcome into `outcomes`."""
    runs = list(_runs(batch))
    for run in runs:
        live = [job for job in run if job.future.set_running_or_notify_cancel()]
        kind = live[0].kind if len(live) > 1 else None
        if kind is None:
            outcomes.update((job, outcome_of(session, job)) for job in live)
        elif len(runs) == 1:
            lean = _lean_outcomes_of_run(session, kind, live, is_outage)
            outcomes.update(zip(live, lean, strict=True))
        else:
            outcomes.update(zip(live, _outcomes_of_run(session, kind, live), strict=True))


def _runs(batch: list[Unit[Any]]) -> Iterator[list[Unit[Any]]]:
    """The batch in order, cut where the kind changes: neighbours of one Batchable kind form
    a run (written together); every plain unit is a run of its own. Order is kept, so a unit
    never overtakes one queued before it (a withdrawal never races its signature)."""
    run: list[Unit[Any]] = []
    for job in batch:
        if run and (job.kind is None or job.kind is not run[-1].kind):
            yield run
            run = []
        run.append(job)
    if run:
        yield run


def outcome_of(session: Session, job: Unit[Any]) -> tuple[bool, Any]:
    try:
        # The outcome is recorded after the savepoint's release, which can fail too (the
        # ORM flushes there): one outcome per unit, either way.
        with session.begin_nested():
            value = job.work(session)
        return True, value
    except Exception as exc:
        return False, exc


def _outcomes_of_run(
    session: Session, kind: Batchable[Any, Any], run: list[Unit[Any]]
) -> list[tuple[bool, Any]]:
    try:
        with session.begin_nested():
            values = _many(session, kind, run)
    except Exception as exc:
        # Undone as a whole: each unit again on its own, so one bad unit fails alone.
        _log_run_failed(kind, run, exc)
        return [outcome_of(session, job) for job in run]
    return _as_outcomes(values)


def _lean_outcomes_of_run(
    session: Session,
    kind: Batchable[Any, Any],
    run: list[Unit[Any]],
    is_outage: Callable[[BaseException], bool],
) -> list[tuple[bool, Any]]:
    """`_outcomes_of_run` for a batch that is this run alone: no SAVEPOINT around it, so a
    run that fails takes the whole transaction with it (LeanRunFailed). On an outage the
    batch fails as a failed commit does: each unit tried on its own would fail on it too."""
    try:
        values = _many(session, kind, run)
    except Exception as exc:
        if is_outage(exc):
            raise
        _log_run_failed(kind, run, exc)
        raise LeanRunFailed(run) from exc
    return _as_outcomes(values)


def _many(session: Session, kind: Batchable[Any, Any], run: list[Unit[Any]]) -> list[Any]:
    values = kind.many(session, [job.item for job in run])
    if len(values) != len(run):
        raise RuntimeError(f"{kind.name}: {len(values)} outcomes for {len(run)} units")
    return values


def _as_outcomes(values: list[Any]) -> list[tuple[bool, Any]]:
    return [
        (False, value) if isinstance(value, BaseException) else (True, value) for value in values
    ]


def _log_run_failed(kind: Batchable[Any, Any], run: list[Unit[Any]], exc: Exception) -> None:
    logger.warning("batched %s of %d units failed (%s); one by one", kind.name, len(run), exc)
