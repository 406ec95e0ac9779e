"""The live count as Server-Sent Events, cheap for many idle pages.

One `CountBroadcaster` per app (so per process) runs at most ONE poller task per petition: it
reads the count about once a second and hands a change to every subscriber's queue. A thousand
open pages cost one query a second, not a thousand. Each connection owns a one-slot queue that
keeps only the newest count, so a slow reader never piles up memory; its queue is removed when it
disconnects, and the poller stops when the last subscriber of a petition leaves.

With several processes each runs its own poller; all read the same database, so every page sees
the same count within about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, FastAPI, Path, Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from api import metrics
from api.abuse.deps import request_ip
from api.capacity import max_streams
from api.config import Settings
from api.db import Database
from api.deps import DatabaseDep
from api.errors import NotFound, ServiceUnavailable, TooManyRequests, problem_responses
from api.openapi import operation_id
from api.petitions import catalog
from api.petitions.models import SLUG_MAX
from api.routing import ApiRoute

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
# Streams end after a few minutes (EventSource reconnects by itself, after RETRY_MS): this bounds
# how long a graceful shutdown waits for open streams, and lets a load balancer rebalance them.
# Jittered so pages opened together do not all reconnect together.
STREAM_SECONDS = (240.0, 360.0)
RETRY_MS = 3000


@dataclass(frozen=True)
class Count:
    verified: int
    goal: int

    def as_event(self) -> bytes:
        data = json.dumps({"verified": self.verified, "goal": self.goal})
        return f"event: count\ndata: {data}\n\n".encode()


CountReader = Callable[[str], Awaitable[Count]]

# Put in every subscriber's queue when the process stops: the stream says goodbye and ends.
STREAM_END = Count(verified=-1, goal=-1)


@dataclass(eq=False)
class _Feed:
    """The poller of one petition and the queues it fills."""

    slug: str
    subscribers: set[asyncio.Queue[Count]] = field(default_factory=set)
    latest: Count | None = None
    task: asyncio.Task[None] | None = None


def _offer(queue: asyncio.Queue[Count], count: Count) -> None:
    """Put the newest count in a one-slot queue, replacing an unread older one."""
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(count)


class CountBroadcaster:
    """Fans one poller's counts out to many subscribers. Lives on one event loop."""

    def __init__(self, read: CountReader, *, poll_seconds: float = POLL_SECONDS) -> None:
        self._read = read
        self.poll_seconds = poll_seconds
        self._feeds: dict[str, _Feed] = {}
        self.closed = False

    @property
    def subscriber_count(self) -> int:
        return sum(len(feed.subscribers) for feed in self._feeds.values())

    @property
    def poller_count(self) -> int:
        return sum(1 for feed in self._feeds.values() if feed.task is not None)

    async def current(self, slug: str) -> Count:
        """The count now: the poller's last reading if it runs, else one read (which raises
        NotFound for an unknown petition)."""
        feed = self._feeds.get(slug)
        if feed is not None and feed.latest is not None:
            return feed.latest
        return await self._read(slug)

    @contextlib.asynccontextmanager
    async def subscribe(self, slug: str) -> AsyncIterator[asyncio.Queue[Count]]:
        """A queue that receives the petition's count whenever it changes, until exit."""
        feed = self._feeds.get(slug)
        if feed is None:
            feed = self._feeds[slug] = _Feed(slug)
            feed.task = asyncio.create_task(self._poll(feed), name=f"count-poller:{slug}")
        queue: asyncio.Queue[Count] = asyncio.Queue(maxsize=1)
        feed.subscribers.add(queue)
        if feed.latest is not None:
            _offer(queue, feed.latest)
        try:
            yield queue
        finally:
            feed.subscribers.discard(queue)
            if not feed.subscribers:
                self._stop(feed)

    def _stop(self, feed: _Feed) -> None:
        if self._feeds.get(feed.slug) is feed:
            del self._feeds[feed.slug]
        if feed.task is not None:
            feed.task.cancel()
            feed.task = None

    async def close(self) -> None:
        """Stop every poller and end every stream (at shutdown: a stream still open would hold
        the graceful shutdown until its timeout)."""
        self.closed = True
        tasks = [feed.task for feed in self._feeds.values() if feed.task is not None]
        for feed in list(self._feeds.values()):
            self._stop(feed)
            for queue in feed.subscribers:
                _offer(queue, STREAM_END)
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _poll(self, feed: _Feed) -> None:
        failures = 0
        while True:
            try:
                count = await self._read(feed.slug)
            except asyncio.CancelledError:
                raise
            except NotFound:
                count = None  # unpublished meanwhile: keep the last count, send nothing
            except Exception:
                failures += 1
                if failures == 1 or failures % 60 == 0:
                    logger.warning("count poller for %s failed %d times", feed.slug, failures)
                await asyncio.sleep(min(30.0, self.poll_seconds * 2**failures))
                continue
            failures = 0
            if count is not None and count != feed.latest:
                feed.latest = count
                for queue in feed.subscribers:
                    _offer(queue, count)
            await asyncio.sleep(self.poll_seconds)


def database_count_reader(database: Database) -> CountReader:
    """Read a count through the petition service, on a worker thread (the driver blocks)."""

    def read_sync(slug: str) -> Count:
        with database.session() as session:
            count = catalog.get_count(session, slug)
        return Count(verified=count.verified, goal=count.goal)

    async def read(slug: str) -> Count:
        return await to_thread.run_sync(read_sync, slug)

    return read


def count_broadcaster(app: FastAPI) -> CountBroadcaster | None:
    """The app's broadcaster, if a stream has made one (get_broadcaster)."""
    return getattr(app.state, "count_broadcaster", None)


async def get_broadcaster(request: Request, database: DatabaseDep) -> CountBroadcaster:
    """The app's broadcaster, made on first use. Async, so it runs on the event loop and two
    first requests cannot each make one."""
    broadcaster = count_broadcaster(request.app)
    if broadcaster is None:
        broadcaster = CountBroadcaster(database_count_reader(database))
        request.app.state.count_broadcaster = broadcaster
    return broadcaster


async def count_stream(
    broadcaster: CountBroadcaster,
    slug: str,
    first: Count,
    *,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
    lifetime_seconds: float | None = None,
) -> AsyncIterator[bytes]:
    """The bytes of one event stream: the count now, each change, and heartbeat comments."""
    loop = asyncio.get_running_loop()
    if lifetime_seconds is None:
        lifetime_seconds = random.uniform(*STREAM_SECONDS)  # noqa: S311 (jitter, not security)
    deadline = loop.time() + lifetime_seconds
    yield f"retry: {RETRY_MS}\n\n".encode() + first.as_event()
    last = first
    metrics.SSE_STREAMS.inc()
    try:
        async with broadcaster.subscribe(slug) as queue:
            while (remaining := deadline - loop.time()) > 0 and not broadcaster.closed:
                try:
                    count = await asyncio.wait_for(queue.get(), min(heartbeat_seconds, remaining))
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if count is STREAM_END:
                    break
                if count != last:
                    last = count
                    yield count.as_event()
        if broadcaster.closed:  # this server is stopping: come back (to another) shortly
            yield f": server stopping\nretry: {RETRY_MS}\n\n".encode()
    finally:
        metrics.SSE_STREAMS.dec()


# A client turned away waits this long; EventSource ignores it (it retries after RETRY_MS) but
# the page falls back to polling /count after three failures.
STREAM_RETRY_AFTER_SECONDS = 30


# What the stream operation answers past its bounds (also its documented examples).
STREAMS_PER_CLIENT_EXCEEDED = TooManyRequests(
    "Your address has as many live-count streams open as allowed; close one, or poll /count "
    "instead.",
    headers={"Retry-After": str(STREAM_RETRY_AFTER_SECONDS)},
)
STREAMS_EXHAUSTED = ServiceUnavailable(
    "The server holds as many live-count streams as it can; retry later or poll /count instead.",
    headers={"Retry-After": str(STREAM_RETRY_AFTER_SECONDS)},
)


class StreamSlots:
    """How many event streams are open, per client address and in total (one event loop, so
    no lock). Each stream holds a connection, so a file descriptor, for minutes: without a
    bound one client could hold them all (finding: ~930 streams from one address left none
    for /healthz or signing)."""

    def __init__(self, per_client: int, total: int) -> None:
        self.per_client = per_client
        self.total = total
        self.open = 0
        self._by_client: dict[str, int] = {}

    def take(self, client: str) -> None:
        held = self._by_client.get(client, 0)
        headers = {"Retry-After": str(STREAM_RETRY_AFTER_SECONDS)}
        if held >= self.per_client:
            raise TooManyRequests(STREAMS_PER_CLIENT_EXCEEDED.detail, headers=headers)
        if self.open >= self.total:
            raise ServiceUnavailable(STREAMS_EXHAUSTED.detail, headers=headers)
        self._by_client[client] = held + 1
        self.open += 1

    def give_back(self, client: str) -> None:
        held = self._by_client.get(client, 0) - 1
        if held > 0:
            self._by_client[client] = held
        else:
            self._by_client.pop(client, None)  # no entry kept per address once it is gone
        self.open -= 1

    @property
    def clients(self) -> int:
        return len(self._by_client)


def stream_slots(app_state: Any, settings: Settings) -> StreamSlots:
    slots: StreamSlots | None = getattr(app_state, "stream_slots", None)
    if slots is None:
        slots = StreamSlots(settings.sse_max_streams_per_client, max_streams(settings))
        app_state.stream_slots = slots
    return slots


class EventStreamResponse(StreamingResponse):
    """A `text/event-stream` body. (Not fastapi.sse.EventSourceResponse: FastAPI treats that
    class as a marker for generator endpoints, and this endpoint must be able to answer 404
    before the stream starts.) Gives its stream slot back however the stream ends."""

    media_type = "text/event-stream"
    # Set by the endpoint (not an __init__ argument: FastAPI reads the default status code
    # from this class's __init__ signature when it documents the operation).
    release: Callable[[], None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self.release is not None:
                self.release()


router = APIRouter(prefix="/v1", route_class=ApiRoute, generate_unique_id_function=operation_id)

EXAMPLE_STREAM = (
    "retry: 3000\n\n"
    'event: count\ndata: {"verified": 1234, "goal": 10000}\n\n'
    ": keep-alive\n\n"
    'event: count\ndata: {"verified": 1235, "goal": 10000}\n\n'
)


@router.get(
    "/petitions/{slug}/events",
    tags=["petitions"],
    summary="Live count (Server-Sent Events)",
    description="A `text/event-stream` for `EventSource`: first the count now, then the count "
    'each time it changes, as `event: count` with JSON `data` `{"verified": N, "goal": G}`. '
    "A comment line (`: keep-alive`) is sent every 15 seconds so proxies keep the connection "
    "open. The server ends each stream after about five minutes; `EventSource` reconnects by "
    "itself (`retry: 3000`). Counts are read once a second per server process, however many "
    "streams are open. Clients that cannot hold a stream should poll "
    "`GET /v1/petitions/{slug}/count` instead (every 10 seconds or more). One address may "
    "hold a few streams at once (`SSE_MAX_STREAMS_PER_CLIENT`, 8 by default): past that, 429; "
    "past the server's total, 503; both with `Retry-After`.",
    response_class=EventStreamResponse,
    responses={
        200: {
            "description": "An endless event stream of counts.",
            "content": {
                "text/event-stream": {
                    # The schema of each event (as OpenAPI 3.2's `itemSchema` would say).
                    "schema": {
                        "type": "object",
                        "properties": {
                            "event": {"type": "string", "const": "count"},
                            "data": {
                                "type": "string",
                                "contentMediaType": "application/json",
                                "description": 'JSON: `{"verified": N, "goal": G}`.',
                            },
                            "retry": {"type": "integer"},
                        },
                    },
                    "example": EXAMPLE_STREAM,
                }
            },
        },
        **problem_responses(
            NotFound("No petition with slug 'no-such-petition'."),
            STREAMS_PER_CLIENT_EXCEEDED,
            STREAMS_EXHAUSTED,
        ),
    },
)
async def petition_events(
    slug: Annotated[
        str,
        Path(
            max_length=SLUG_MAX,
            description="The petition's slug.",
            examples=["florida-minimum-arrest-age-12"],
        ),
    ],
    request: Request,
    broadcaster: Annotated[CountBroadcaster, Depends(get_broadcaster)],
) -> EventStreamResponse:
    first = await broadcaster.current(slug)
    slots = stream_slots(request.app.state, request.app.state.settings)
    client = request_ip(request) or "unknown"
    slots.take(client)  # given back when the response has been sent, however it ends
    response = EventStreamResponse(
        count_stream(broadcaster, slug, first),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
    response.release = lambda: slots.give_back(client)
    return response
