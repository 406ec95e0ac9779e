"""Per-process TTL caches, so hot reads cost no query most of the time.

Each value is re-read at most once per TTL per process, so a count is exact within TTL seconds
whatever the traffic, and many processes each add at most one small query per TTL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class TtlCache(Generic[T]):
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
