"""Request dependencies for the defences: the client IP and rate limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from api import metrics
from api.abuse.client import client_ip
from api.abuse.ratelimit import MemoryStore, Policy, RateLimiter, RedisStore
from api.config import Settings
from api.errors import TooManyRequests
from api.security import keyed_hash


def build_rate_limiter(settings: Settings) -> RateLimiter:
    policies = [
        Policy.parse("burst", settings.rate_limit_burst),
        Policy.parse("sustained", settings.rate_limit_sustained),
    ]
    store = RedisStore(settings.redis_url) if settings.redis_url else MemoryStore()
    return RateLimiter(store, policies)


def request_ip(request: Request) -> str | None:
    settings: Settings = request.app.state.settings
    return client_ip(request, settings.trusted_proxies)


def rate_limit(action: str) -> Any:
    """Count the request against the caller's limits for `action` (and the petition, if any).

    Over the limit: 429 problem with Retry-After and the IETF RateLimit headers.
    """

    # async: a sync dependency costs a round trip through the thread pool on every request.
    # Only a store that waits on the network (Redis) is run in a thread.
    async def check(request: Request, response: Response) -> None:
        settings: Settings = request.app.state.settings
        if not settings.rate_limit_enabled:
            return
        limiter: RateLimiter = request.app.state.rate_limiter
        ip = request_ip(request) or "unknown"
        # Keys hold a keyed hash, never the address itself.
        subject = keyed_hash(settings.secret(), "ip", ip)[:32]
        slug = request.path_params.get("slug")
        key = f"{action}:{slug}:{subject}" if slug else f"{action}:{subject}"
        if limiter.store.blocking:
            decision = await run_in_threadpool(limiter.check, key)
        else:
            decision = limiter.check(key)
        headers = decision.headers(limiter.policies)
        if not decision.allowed:
            metrics.RATE_LIMIT_REFUSALS.labels(action).inc()
            raise TooManyRequests(
                f"Too many requests; retry after {decision.reset} seconds.",
                headers={**headers, "Retry-After": str(decision.reset)},
            )
        response.headers.update(headers)

    checker: Callable[..., Awaitable[None]] = check
    return Depends(checker)
