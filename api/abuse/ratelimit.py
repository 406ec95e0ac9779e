"""Fixed-window rate limits, in process for one instance or in Redis for several.

Each policy is a number of hits per window. A hit can be taken back (`refund`) within its
window: signing counts a signature against its address when it is taken, and gives the count
back if the request is then refused (a 422, a 409...), so only accepted signatures use up an
address's allowance. The answer carries what the IETF RateLimit headers need
(draft-ietf-httpapi-ratelimit-headers).

Why not the `limits` library: it has no way to take a hit back (only hit, test and clear), and
test-then-hit would be two round trips and racy; and it checks each limit in its own round
trip, where the Lua script below counts every policy of a request in one.

Redis down (`ResilientStore`): every call has connect and read timeouts; the first failure
logs one line and, for RATE_LIMIT_REDIS_RETRY_SECONDS, requests skip Redis altogether and
either count in this process (`local`) or are refused with a 503 (`closed`); then one request
tries Redis again. Recovery logs one line too.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Literal, Protocol

logger = logging.getLogger(__name__)


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


def tightest(decisions: list[Decision]) -> Decision:
    """The decision to report: the exceeded policy that resets last, else the one with the
    fewest hits left."""
    refused = [d for d in decisions if not d.allowed]
    if refused:
        return max(refused, key=lambda d: d.reset)
    return min(decisions, key=lambda d: (d.remaining, -d.reset))


class StoreUnavailable(Exception):
    """The shared store cannot be reached and the policy is to refuse (`closed`)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("rate-limit store unavailable")
        self.retry_after = retry_after


class Store(Protocol):
    # Whether hit() waits on the network: callers on an event loop then run it in a thread.
    blocking: bool

    def hit(
        self, keys: list[tuple[str, int]], now: float, amount: int = 1
    ) -> list[tuple[int, int]]:
        """Add `amount` (1, or -1 to take a hit back) to each (key, window) in the window that
        holds `now`; return (count, seconds left) for each. A take-back after its window
        ended changes nothing."""


class MemoryStore:
    """For a single process. Windows are aligned to the clock, so they match Redis's."""

    blocking = False  # a dict under a lock held for microseconds

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def hit(
        self, keys: list[tuple[str, int]], now: float, amount: int = 1
    ) -> list[tuple[int, int]]:
        results = []
        with self._lock:
            if time.time() >= self._next_sweep:
                current = time.time()
                self._counts = {k: v for k, v in self._counts.items() if v[1] > current}
                self._next_sweep = current + 60
            for key, window in keys:
                ends = (math.floor(now / window) + 1) * window
                count, stored_ends = self._counts.get(key, (0, ends))
                if stored_ends != ends:  # an older window: it no longer counts
                    count = 0
                if amount > 0 or count > 0:
                    count = max(0, count + amount)
                    self._counts[key] = (count, ends)
                results.append((count, max(1, math.ceil(ends - now))))
        return results


_REDIS_HIT = """
local amount = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local n = 0
  if amount > 0 or redis.call('EXISTS', key) == 1 then
    n = redis.call('INCRBY', key, amount)
    if n == amount then redis.call('EXPIRE', key, tonumber(ARGV[i + 1])) end
  end
  out[#out + 1] = n
  out[#out + 1] = redis.call('TTL', key)
end
return out
"""


class RedisStore:
    """Shared by every instance; one round trip and atomic (a Lua script)."""

    blocking = True

    def __init__(self, url: str, timeout_seconds: float) -> None:
        import redis

        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
        )
        self._script = self._client.register_script(_REDIS_HIT)

    def hit(
        self, keys: list[tuple[str, int]], now: float, amount: int = 1
    ) -> list[tuple[int, int]]:
        names = [f"{key}:{math.floor(now / window)}" for key, window in keys]
        ttls = [window for _, window in keys]
        raw = self._script(keys=names, args=[amount, *ttls])
        return [(max(0, int(raw[i])), max(1, int(raw[i + 1]))) for i in range(0, len(raw), 2)]

    def ping(self) -> None:
        self._client.ping()


StoreState = Literal["ok", "down"]


class ResilientStore:
    """Redis, and what to do while it cannot be reached (see the module's docstring)."""

    blocking = True

    def __init__(
        self,
        redis_store: RedisStore,
        on_error: Literal["local", "closed"],
        retry_seconds: float,
    ) -> None:
        self.redis = redis_store
        self.on_error = on_error
        self.retry_seconds = retry_seconds
        self.fallback = MemoryStore()
        self.state: StoreState = "ok"
        self._retry_at = 0.0  # monotonic time before which Redis is not tried again
        self._lock = threading.Lock()

    def hit(
        self, keys: list[tuple[str, int]], now: float, amount: int = 1
    ) -> list[tuple[int, int]]:
        import redis

        if self.state == "down" and time.monotonic() < self._retry_at:
            return self._without_redis(keys, now, amount)
        try:
            result = self.redis.hit(keys, now, amount)
        except redis.RedisError as exc:
            self._went_down(exc)
            return self._without_redis(keys, now, amount)
        self._came_back()
        return result

    def _without_redis(
        self, keys: list[tuple[str, int]], now: float, amount: int
    ) -> list[tuple[int, int]]:
        if self.on_error == "closed":
            raise StoreUnavailable(max(1, math.ceil(self.retry_seconds)))
        return self.fallback.hit(keys, now, amount)

    def _went_down(self, exc: Exception) -> None:
        with self._lock:
            self._retry_at = time.monotonic() + self.retry_seconds
            if self.state == "down":
                return
            self.state = "down"
        # One line per incident, without a traceback (the exception type says enough).
        logger.warning(
            "rate limits: Redis unreachable (%s); %s until it answers again",
            type(exc).__name__,
            "counting in this process"
            if self.on_error == "local"
            else "refusing signing and access requests with 503",
        )

    def _came_back(self) -> None:
        if self.state == "ok":
            return
        with self._lock:
            if self.state == "ok":
                return
            self.state = "ok"
        logger.warning("rate limits: Redis reachable again; shared counting resumed")

    def probe(self) -> StoreState:
        """Ping Redis now (bounded by its timeouts) and update the state."""
        import redis

        try:
            self.redis.ping()
        except redis.RedisError as exc:
            self._went_down(exc)
            return "down"
        self._came_back()
        return "ok"


@dataclass(frozen=True)
class Hits:
    """What one request counted, so it can be taken back."""

    keys: list[tuple[str, int]]
    now: float


class RateLimiter:
    def __init__(self, store: Store, prefix: str = "rl") -> None:
        self.store = store
        self.prefix = prefix

    def count(self, subject: str, policies: list[Policy]) -> tuple[list[Decision], Hits]:
        """Count a hit by `subject` (e.g. a hashed IP and a petition) against each policy, in
        one call to the store; the decisions are in the order of `policies`."""
        now = time.time()
        keys = [(f"{self.prefix}:{p.name}:{subject}", p.window) for p in policies]
        counts = self.store.hit(keys, now)
        decisions = [
            Decision(
                allowed=count <= policy.limit,
                policy=policy,
                remaining=max(0, policy.limit - count),
                reset=ttl,
            )
            for policy, (count, ttl) in zip(policies, counts, strict=True)
        ]
        return decisions, Hits(keys, now)

    def refund(self, hits: Hits) -> None:
        """Take back hits counted by `count` (still within their windows)."""
        if hits.keys:
            self.store.hit(hits.keys, hits.now, amount=-1)

    def health(self) -> dict[str, str]:
        """For /readyz: which store counts, and whether Redis answers (pings it)."""
        if isinstance(self.store, ResilientStore):
            return {"redis": self.store.probe(), "redis_on_error": self.store.on_error}
        return {"redis": "not_configured"}
