"""Request dependencies for the defences: the client IP and rate limits."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from fastapi import Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from api import metrics
from api.abuse.client import client_ip
from api.abuse.ratelimit import (
    Decision,
    Hits,
    MemoryStore,
    Policy,
    RateLimiter,
    RedisStore,
    ResilientStore,
    Store,
    StoreUnavailable,
    tightest,
)
from api.config import Settings
from api.errors import ServiceUnavailable, TooManyRequests
from api.security import keyed_hash

T = TypeVar("T")

# Set on request.state for the signing endpoint: the address is past its allowance of accepted
# signatures, so the signature is taken but held for review.
HOLD_FOR_REVIEW = "hold_for_review"


def build_rate_limiter(settings: Settings) -> RateLimiter:
    store: Store = MemoryStore()
    if settings.redis_url:
        store = ResilientStore(
            RedisStore(settings.redis_url, settings.redis_timeout_seconds),
            on_error=settings.rate_limit_on_redis_error,
            retry_seconds=settings.rate_limit_redis_retry_seconds,
        )
    return RateLimiter(store)


def allowance_policies(settings: Settings) -> list[Policy]:
    return [
        Policy.parse("burst", settings.rate_limit_burst),
        Policy.parse("sustained", settings.rate_limit_sustained),
    ]


def request_ip(request: Request) -> str | None:
    settings: Settings = request.app.state.settings
    return client_ip(request, settings.trusted_proxies)


async def _call_store(limiter: RateLimiter, work: Callable[[], T]) -> T:
    # Only a store that waits on the network (Redis) is run in a thread: a sync call costs a
    # round trip through the thread pool on every request.
    try:
        if limiter.store.blocking:
            return await run_in_threadpool(work)
        return work()
    except StoreUnavailable as exc:
        raise ServiceUnavailable(
            "Signing is briefly unavailable; please try again shortly.",
            headers={"Retry-After": str(exc.retry_after)},
        ) from exc


async def _give_back(limiter: RateLimiter, hits: Hits) -> None:
    # If the store went away meanwhile, its windows expire anyway.
    with contextlib.suppress(ServiceUnavailable):
        await _call_store(limiter, lambda: limiter.refund(hits))


def _subject(request: Request, settings: Settings, action: str) -> str:
    # Keys hold a keyed hash, never the address itself.
    subject = keyed_hash(settings.secret(), "ip", request_ip(request) or "unknown")[:32]
    slug = request.path_params.get("slug")
    return f"{action}:{slug}:{subject}" if slug else f"{action}:{subject}"


def _refuse(action: str, decision: Decision, policies: list[Policy]) -> TooManyRequests:
    metrics.RATE_LIMIT_REFUSALS.labels(action).inc()
    return TooManyRequests(
        f"Too many requests; retry after {decision.reset} seconds.",
        headers={**decision.headers(policies), "Retry-After": str(decision.reset)},
    )


def rate_limit(action: str) -> Any:
    """Count every request against the caller's limits for `action` (per petition, if any):
    RATE_LIMIT_BURST and RATE_LIMIT_SUSTAINED. Over a limit: 429 problem with Retry-After and
    the IETF RateLimit headers."""

    async def check(request: Request, response: Response) -> None:
        settings: Settings = request.app.state.settings
        if not settings.rate_limit_enabled:
            return
        limiter: RateLimiter = request.app.state.rate_limiter
        policies = allowance_policies(settings)
        subject = _subject(request, settings, action)
        decisions, _ = await _call_store(limiter, lambda: limiter.count(subject, policies))
        decision = tightest(decisions)
        if not decision.allowed:
            raise _refuse(action, decision, policies)
        response.headers.update(decision.headers(policies))

    check.rate_limited_action = action  # type: ignore[attr-defined]  # documented by api.openapi
    return Depends(check)


@contextlib.asynccontextmanager
async def signing_allowance(request: Request, response: Response) -> AsyncIterator[None]:
    """The per-address policy on signing, made so that a classroom, an office or a carrier's
    shared address can sign:

    - every request counts against RATE_LIMIT_REQUESTS (a flood ceiling); past it, 429;
    - only ACCEPTED signatures count against RATE_LIMIT_BURST and RATE_LIMIT_SUSTAINED: the
      hit is taken back if the request is refused (422, 403, 409...). Past either, the
      signature is still taken, but held for staff review (`request.state.hold_for_review`):
      the signer confirms by email as usual, and it counts once staff release it.

    The JSON API (api/petitions/router.py, `sign`) and the page's plain HTML form both sign
    inside it.
    """
    settings: Settings = request.app.state.settings
    if not settings.rate_limit_enabled:
        yield
        return
    limiter: RateLimiter = request.app.state.rate_limiter
    ceiling = Policy.parse("requests", settings.rate_limit_requests)
    allowance = allowance_policies(settings)
    subject = _subject(request, settings, "sign")
    decisions, hits = await _call_store(
        limiter, lambda: limiter.count(subject, [ceiling, *allowance])
    )
    flood, accepted = decisions[0], decisions[1:]
    reserved = Hits(hits.keys[1:], hits.now)  # the allowance's hits, to give back
    if not flood.allowed:
        await _give_back(limiter, reserved)
        raise _refuse("sign", flood, [ceiling])
    setattr(request.state, HOLD_FOR_REVIEW, not all(d.allowed for d in accepted))
    response.headers.update(flood.headers([ceiling]))
    try:
        yield
    except BaseException:
        # Refused (or failed): it does not use up the address's allowance.
        await _give_back(limiter, reserved)
        raise
