"""Every per-process cache of an app, in one registry, by name (`app.state.caches`).

Each cache keeps a value for a short while so hot reads cost no query most of the time; each
process has its own, so a value is exact within its lifetime whatever the traffic, and many
processes each add at most one small query per lifetime.

Code that changes data makes the caches of that data forget it, by name, once its unit of work
has committed (`invalidate_after_commit`): a reader that starts after the commit never gets,
nor keeps again, what the commit replaced. Tests empty them all with `clear_all()`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from sqlmodel import Session

T = TypeVar("T")
C = TypeVar("C", bound="Cache")

# The caches an app registers (api.main), and what they hold.
RESPONSES = "responses"  # public API answers (api.middleware.response_cache)
COUNTS = "counts"  # a petition's signature count
STATS = "stats"  # a petition's stats (the same numbers on its page)
SHARE_IMAGES = "share_images"  # a petition's share card (PNG)
BLOCK_LISTS = "blocklists"  # staff's blocked email domains and IP ranges
ALL_CACHES = (RESPONSES, COUNTS, STATS, SHARE_IMAGES, BLOCK_LISTS)


class Cache(Protocol):
    def clear(self) -> None: ...


class TtlCache(Generic[T]):
    """Values by key, each loaded again once it is `ttl_seconds` old."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._values: dict[str, tuple[float, T]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], T]) -> T:
        now = time.monotonic()
        hit = self._values.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        # One loader at a time per process: a burst of misses costs one query, not hundreds.
        with self._lock:
            hit = self._values.get(key)
            if hit is not None and time.monotonic() - hit[0] < self.ttl:
                return hit[1]
            value = load()
            self._values[key] = (time.monotonic(), value)
            return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


class Caches:
    """The caches of one app, by name."""

    def __init__(self) -> None:
        self._by_name: dict[str, Cache] = {}

    def register(self, name: str, cache: Cache) -> None:
        if name in self._by_name:
            raise ValueError(f"a cache named {name!r} is already registered")
        self._by_name[name] = cache

    def __getitem__(self, name: str) -> Cache:
        return self._by_name[name]

    def get(self, name: str, kind: type[C]) -> C:
        """The cache of this name, which is a `kind`."""
        cache = self._by_name[name]
        assert isinstance(cache, kind), name
        return cache

    def ttl(self, name: str) -> TtlCache[Any]:
        """The TTL cache of this name (the caller knows what it holds)."""
        return self.get(name, TtlCache)

    def ttl_if_any(self, name: str) -> TtlCache[Any] | None:
        """The TTL cache of this name, or None where none is registered (a bare `Database`
        in a command or the mail worker reads through to the database)."""
        return self.get(name, TtlCache) if name in self._by_name else None

    def invalidate(self, *names: str) -> None:
        for name in names:
            cache = self._by_name.get(name)
            if cache is not None:  # an app may run without some (e.g. a bare Database)
                cache.clear()

    def clear_all(self) -> None:
        self.invalidate(*self._by_name)


# Keys in `Session.info`, set by api.db.Database for every unit of work.
SESSION_CACHES = "advocacy_caches"
_STALE_AFTER_COMMIT = "advocacy_stale_caches"


def caches_of(session: Session) -> Caches:
    """The registry of the app whose database this unit of work runs on."""
    caches: Caches = session.info[SESSION_CACHES]
    return caches


def invalidate_after_commit(session: Session, *names: str) -> None:
    """Make these caches forget once this unit of work commits (nothing if it rolls back).
    Not before: a reader between now and the commit would cache the old data again."""
    stale: set[str] = session.info.setdefault(_STALE_AFTER_COMMIT, set())
    stale.update(names)


def invalidate_committed(session: Session) -> None:
    """Called by api.db after a commit: the caches its unit of work made stale forget."""
    stale: set[str] | None = session.info.pop(_STALE_AFTER_COMMIT, None)
    if stale:
        caches_of(session).invalidate(*stale)
