"""Dependencies that can fail (the database; Redis): how their outage is answered and logged.

A dependency that is down or hung is answered `503` problem+json with `Retry-After`, never a
500, a hang or a dropped connection. Each dependency has one `DependencyState` per process that
logs ONE line when it goes down and one when it is back (with how many requests failed
meanwhile), not a traceback per request. While it is down, at most one request per
`TRIAL_SECONDS` tries it (a circuit breaker): the others are answered 503 at once instead of
each waiting out a timeout while holding a worker thread.

    state = DependencyState("database")
    state.admit()          # raises DependencyUnavailable while down, but for one trial a second
    state.failed(exc)      # the call failed because the dependency is unavailable
    state.recovered()      # a call succeeded (cheap when nothing was wrong)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from starlette.types import Scope, Send

from api.error_handlers import send_problem
from api.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
TRIAL_SECONDS = 1.0


class DependencyUnavailable(ServiceUnavailable):
    """A dependency is down: answered 503 with Retry-After."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"The {name} is not available right now; retry in a few seconds.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
        self.dependency = name


def describe(exc: BaseException) -> str:
    """The kind of failure, for a log line: the driver's error class and the first line of its
    message (never the statement or its parameters, which may hold personal data)."""
    original = getattr(exc, "orig", None) or exc
    message = (str(original).strip().splitlines() or [""])[0][:200]
    return f"{type(original).__name__}: {message}" if message else type(original).__name__


class DependencyState:
    """Up or down, per process, with the circuit breaker and the once-per-incident log.

    An outage seen only by writes (SQLite on a full disk: reads still work) is "down for
    writes": reads are let through and do not count as a recovery; only a write does."""

    def __init__(
        self,
        name: str,
        is_outage: Callable[[BaseException], bool],
        *,
        is_conflict: Callable[[BaseException], bool] | None = None,
        trial_seconds: float = TRIAL_SECONDS,
    ) -> None:
        """`is_outage`: whether an error says the dependency is out. `is_conflict`: of those,
        the ones that say nothing about its health (a transaction that lost a deadlock to
        another): answered 503 with Retry-After all the same, since the same request tried
        again succeeds, but the dependency is not marked down for everyone else."""
        self.name = name
        self.is_outage = is_outage
        self.is_conflict = is_conflict
        self.trial_seconds = trial_seconds
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.writes_only = False
        self._next_trial = 0.0
        self.failures = 0

    @property
    def is_down(self) -> bool:
        return self.down_since is not None

    def _affects(self, write: bool) -> bool:
        return self.down_since is not None and (write or not self.writes_only)

    def admit(self, *, write: bool = False) -> None:
        """Let a call through, unless the dependency is down (for this kind of call) and a
        trial ran less than `trial_seconds` ago."""
        if self.down_since is None:  # the hot path: one attribute read
            return
        now = time.monotonic()
        with self._lock:
            if not self._affects(write):
                return
            if now >= self._next_trial:  # this call is the trial
                self._next_trial = now + self.trial_seconds
                return
            self.failures += 1
        raise DependencyUnavailable(self.name)

    def failed(self, exc: BaseException, *, write: bool = False) -> None:
        if isinstance(exc, DependencyUnavailable):
            return  # turned away by admit(): counted there, and no trial was made
        conflict = _cause_where(exc, self.is_conflict) if self.is_conflict else None
        if conflict is not None:
            logger.warning("%s: %s (answered 503; not an outage)", self.name, describe(conflict))
            return
        with self._lock:
            self.failures += 1
            self._next_trial = time.monotonic() + self.trial_seconds
            if self.down_since is not None:
                self.writes_only = self.writes_only and write
                return
            self.down_since = time.monotonic()
            self.writes_only = write
            self.failures = 1
        logger.warning(
            "%s unavailable%s: %s", self.name, " for writes" if write else "", describe(exc)
        )

    def recovered(self, *, write: bool = False) -> None:
        if self.down_since is None:  # the hot path: one attribute read
            return
        with self._lock:
            if not self._affects(write):
                return
            assert self.down_since is not None
            seconds = time.monotonic() - self.down_since
            failures, self.down_since, self.failures = self.failures, None, 0
        logger.warning(
            "%s available again after %.1f s (%d requests answered 503 meanwhile)",
            self.name,
            seconds,
            failures,
        )

    def failure_of(self, exc: BaseException) -> bool:
        """Whether `exc` (or an exception it was raised from) says this dependency is out."""
        found = _cause_where(
            exc, lambda seen: isinstance(seen, DependencyUnavailable) or self.is_outage(seen)
        )
        if isinstance(found, DependencyUnavailable):
            return found.dependency == self.name
        return found is not None


def _cause_where(
    exc: BaseException, matches: Callable[[BaseException], bool]
) -> BaseException | None:
    """The first of `exc` and the exceptions it was raised from (five deep) that `matches`."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if matches(seen):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


async def answer_outage(
    states: Sequence[DependencyState], exc: Exception, scope: Scope, send: Send
) -> bool:
    """Answer `exc` with a 503 problem (Retry-After) if it is an outage of one of `states`,
    recording it there; False (nothing sent) when it is not. The response must not have
    started: the edge (api.middleware.edge) calls this before anything was sent, so nothing
    such an error passes through logs a traceback for it, wherever it surfaced (a route, a
    dependency's teardown, a middleware)."""
    state = next((s for s in states if s.failure_of(exc)), None)
    if state is None:
        return False
    state.failed(exc, write=scope["method"] not in ("GET", "HEAD"))
    await send_problem(send, DependencyUnavailable(state.name), scope["path"])
    return True
