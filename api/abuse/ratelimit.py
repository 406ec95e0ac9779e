"""Fixed-window rate limits, in process for one instance or in Redis for several.

Each policy is a number of requests per window; a request must fit every policy. The answer
carries what the IETF RateLimit headers need (draft-ietf-httpapi-ratelimit-headers).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Policy:
    name: str
    limit: int
    window: int  # seconds

    @classmethod
    def parse(cls, name: str, text: str) -> Policy:
        limit, window = (int(part) for part in text.split("/"))
        return cls(name, limit, window)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    policy: Policy  # the tightest policy: the one exceeded, or the one with least left
    remaining: int
    reset: int  # seconds until that policy's window ends

    def headers(self, policies: list[Policy]) -> dict[str, str]:
        return {
            "RateLimit-Policy": ", ".join(f'"{p.name}";q={p.limit};w={p.window}' for p in policies),
            "RateLimit": f'"{self.policy.name}";r={self.remaining};t={self.reset}',
        }


class Store(Protocol):
    # Whether hit() waits on the network: callers on an event loop then run it in a thread.
    blocking: bool

    def hit(self, keys: list[tuple[str, int]]) -> list[tuple[int, int]]:
        """Count one request in each (key, window); return (count, seconds left) for each."""


class MemoryStore:
    """For a single process. Windows are aligned to the clock, so they match Redis's."""

    blocking = False  # a dict under a lock held for microseconds

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def hit(self, keys: list[tuple[str, int]]) -> list[tuple[int, int]]:
        now = time.time()
        results = []
        with self._lock:
            if now >= self._next_sweep:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
                self._next_sweep = now + 60
            for key, window in keys:
                ends = (math.floor(now / window) + 1) * window
                count, _ = self._counts.get(key, (0, ends))
                self._counts[key] = (count + 1, ends)
                results.append((count + 1, max(1, math.ceil(ends - now))))
        return results


_REDIS_HIT = """
local out = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, tonumber(ARGV[i])) end
  out[#out + 1] = n
  out[#out + 1] = redis.call('TTL', key)
end
return out
"""


class RedisStore:
    """Shared by every instance; one round trip and atomic (a Lua script)."""

    blocking = True

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._client.register_script(_REDIS_HIT)

    def hit(self, keys: list[tuple[str, int]]) -> list[tuple[int, int]]:
        now = time.time()
        names = [f"{key}:{math.floor(now / window)}" for key, window in keys]
        ttls = [window for _, window in keys]
        raw = self._script(keys=names, args=ttls)
        return [(int(raw[i]), max(1, int(raw[i + 1]))) for i in range(0, len(raw), 2)]


class RateLimiter:
    def __init__(self, store: Store, policies: list[Policy], prefix: str = "rl") -> None:
        self.store = store
        self.policies = policies
        self.prefix = prefix

    def check(self, subject: str) -> Decision:
        """Count a request by `subject` (e.g. a hashed IP and a petition) against every policy."""
        keys = [(f"{self.prefix}:{p.name}:{subject}", p.window) for p in self.policies]
        counts = self.store.hit(keys)
        decisions = [
            Decision(
                allowed=count <= policy.limit,
                policy=policy,
                remaining=max(0, policy.limit - count),
                reset=ttl,
            )
            for policy, (count, ttl) in zip(self.policies, counts, strict=True)
        ]
        refused = [d for d in decisions if not d.allowed]
        if refused:
            return max(refused, key=lambda d: d.reset)
        return min(decisions, key=lambda d: (d.remaining, -d.reset))
