"""Request dependencies for the defences: the client IP and rate limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request, Response

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

    def check(request: Request, response: Response) -> None:
        settings: Settings = request.app.state.settings
        if not settings.rate_limit_enabled:
            return
        limiter: RateLimiter = request.app.state.rate_limiter
        ip = request_ip(request) or "unknown"
        # Keys hold a keyed hash, never the address itself.
        subject = keyed_hash(settings.secret(), "ip", ip)[:32]
        slug = request.path_params.get("slug")
        decision = limiter.check(f"{action}:{slug}:{subject}" if slug else f"{action}:{subject}")
        headers = decision.headers(limiter.policies)
        if not decision.allowed:
            raise TooManyRequests(
                f"Too many requests; retry after {decision.reset} seconds.",
                headers={**headers, "Retry-After": str(decision.reset)},
            )
        response.headers.update(headers)

    checker: Callable[..., None] = check
    return Depends(checker)
