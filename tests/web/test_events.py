"""The live count: one poller per petition fanned out to every stream, and nothing left behind
when clients go away. The fan-out is tested directly; the stream over a real uvicorn server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlmodel import col, select

from api.config import Settings
from api.db import Database
from api.errors import NotFound
from api.petitions.models import CountShard, Petition
from api.web.events import Count, CountBroadcaster, count_stream
from tests.web.conftest import SLUG, LiveServer, serve

# --- the broadcaster, with a fake count source ----------------------------------------------


class FakeCounts:
    def __init__(self) -> None:
        self.values = {"p": Count(0, 100)}
        self.reads = 0
        self.fail = False

    async def read(self, slug: str) -> Count:
        self.reads += 1
        await asyncio.sleep(0)
        if self.fail:
            raise RuntimeError("database down")
        if slug not in self.values:
            raise NotFound(f"No petition with slug '{slug}'.")
        return self.values[slug]


async def eventually(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def test_one_poller_fans_out_to_every_subscriber_and_stops_when_they_leave() -> None:
    async def scenario() -> None:
        counts = FakeCounts()
        broadcaster = CountBroadcaster(counts.read, poll_seconds=0.01)
        async with contextlib.AsyncExitStack() as stack:
            queues = [
                await stack.enter_async_context(broadcaster.subscribe("p")) for _ in range(200)
            ]
            assert broadcaster.poller_count == 1
            assert broadcaster.subscriber_count == 200
            first = await asyncio.wait_for(queues[0].get(), 1)
            assert first == Count(0, 100)

            reads_before = counts.reads
            await asyncio.sleep(0.1)
            # ~10 reads in 0.1 s at 0.01 s a poll, for 200 subscribers: not one read each.
            assert counts.reads - reads_before < 30

            counts.values["p"] = Count(7, 100)
            reads = counts.reads
            await eventually(lambda: counts.reads >= reads + 2)  # polled since the change
            for queue in queues[1:]:
                # Each queue holds only the newest count (the first one was replaced unread).
                assert await asyncio.wait_for(queue.get(), 1) == Count(7, 100)
                assert queue.empty()
            assert await asyncio.wait_for(queues[0].get(), 1) == Count(7, 100)
        assert broadcaster.subscriber_count == 0
        assert broadcaster.poller_count == 0
        reads_after = counts.reads
        await asyncio.sleep(0.05)
        assert counts.reads == reads_after  # the poller is gone

    asyncio.run(scenario())


def test_a_subscriber_that_leaves_early_is_removed_at_once() -> None:
    async def scenario() -> None:
        broadcaster = CountBroadcaster(FakeCounts().read, poll_seconds=0.01)
        async with broadcaster.subscribe("p"):
            async with broadcaster.subscribe("p"):
                assert broadcaster.subscriber_count == 2
            assert broadcaster.subscriber_count == 1
            assert broadcaster.poller_count == 1
        assert broadcaster.subscriber_count == 0
        assert broadcaster.poller_count == 0

        # Cancelled mid-wait (a client disconnecting), the queue goes too.
        async def listen() -> None:
            async with broadcaster.subscribe("p") as queue:
                while True:
                    await queue.get()

        task = asyncio.create_task(listen())
        await eventually(lambda: broadcaster.subscriber_count == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert broadcaster.subscriber_count == 0
        assert broadcaster.poller_count == 0

    asyncio.run(scenario())


def test_current_reads_once_when_no_poller_runs_and_raises_for_unknown_petitions() -> None:
    async def scenario() -> None:
        counts = FakeCounts()
        broadcaster = CountBroadcaster(counts.read, poll_seconds=0.01)
        assert await broadcaster.current("p") == Count(0, 100)
        with pytest.raises(NotFound):
            await broadcaster.current("nope")
        async with broadcaster.subscribe("p"):
            await eventually(lambda: counts.reads >= 4)
            reads = counts.reads
            assert await broadcaster.current("p") == Count(0, 100)
            assert counts.reads - reads <= 1  # served from the poller's last reading

    asyncio.run(scenario())


def test_the_poller_survives_database_errors() -> None:
    async def scenario() -> None:
        counts = FakeCounts()
        broadcaster = CountBroadcaster(counts.read, poll_seconds=0.001)
        async with broadcaster.subscribe("p") as queue:
            assert await asyncio.wait_for(queue.get(), 1) == Count(0, 100)
            counts.fail = True
            await eventually(lambda: counts.reads >= 4)
            counts.fail = False
            counts.values["p"] = Count(1, 100)
            assert await asyncio.wait_for(queue.get(), 2) == Count(1, 100)

    asyncio.run(scenario())


def test_stream_sends_the_count_changes_and_heartbeats_then_ends() -> None:
    async def scenario() -> None:
        counts = FakeCounts()
        broadcaster = CountBroadcaster(counts.read, poll_seconds=0.01)
        stream = count_stream(
            broadcaster, "p", Count(0, 100), heartbeat_seconds=0.05, lifetime_seconds=0.5
        )
        chunks = [await anext(stream)]
        assert chunks[0] == b'retry: 3000\n\nevent: count\ndata: {"verified": 0, "goal": 100}\n\n'
        assert await anext(stream) == b": keep-alive\n\n"  # nothing changed
        counts.values["p"] = Count(3, 100)
        while (chunk := await anext(stream)) == b": keep-alive\n\n":
            pass
        assert chunk == b'event: count\ndata: {"verified": 3, "goal": 100}\n\n'
        rest = [chunk async for chunk in stream]  # ends by itself after its lifetime
        assert all(chunk == b": keep-alive\n\n" for chunk in rest)
        assert broadcaster.subscriber_count == 0
        assert broadcaster.poller_count == 0

    asyncio.run(scenario())


# --- over a real server ---------------------------------------------------------------------


def broadcaster_of(app: FastAPI) -> CountBroadcaster:
    broadcaster = getattr(app.state, "count_broadcaster", None)
    assert broadcaster is not None
    return broadcaster


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except RuntimeError:  # a set changed size while read from this thread: look again
            pass
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def read_event(lines) -> tuple[str, dict]:
    event, data = "", ""
    for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif line == "" and event:
            return event, json.loads(data)
    raise AssertionError("the stream ended")


def add_confirmed(database: Database, amount: int) -> None:
    with database.session(write=True) as session:
        petition = session.exec(select(Petition).where(Petition.slug == SLUG)).one()
        assert petition.id is not None
        updated = session.execute(
            update(CountShard)
            .where(col(CountShard.petition_id) == petition.id, col(CountShard.shard) == 0)
            .values(confirmed=CountShard.confirmed + amount)
        )
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            session.add(CountShard(petition_id=petition.id, shard=0, confirmed=amount))


def test_event_stream_over_http_and_no_leak_after_disconnect(
    live_server: LiveServer, clean_database: Database
) -> None:
    url = f"{live_server.url}/v1/petitions/{SLUG}/events"
    with httpx.Client(timeout=10) as client, client.stream("GET", url) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        lines = response.iter_lines()
        assert read_event(lines) == ("count", {"verified": 0, "goal": 10000})
        broadcaster = broadcaster_of(live_server.app)
        wait_until(lambda: broadcaster.subscriber_count == 1)
        assert broadcaster.poller_count == 1

        add_confirmed(clean_database, 5)
        assert read_event(lines) == ("count", {"verified": 5, "goal": 10000})
    # The client has gone: its queue and the petition's poller are removed.
    wait_until(lambda: broadcaster.subscriber_count == 0 and broadcaster.poller_count == 0)


@pytest.fixture
def roomy_server(settings: Settings, clean_database: Database) -> Iterator[LiveServer]:
    """A server where one address may hold many streams (all of a test's come from one)."""
    server = serve(settings, sse_max_streams_per_client=100)
    yield server
    server.stop()


def test_many_streams_share_one_poller(roomy_server: LiveServer) -> None:
    live_server = roomy_server
    url = f"{live_server.url}/v1/petitions/{SLUG}/events"
    streams = 50

    async def scenario() -> None:
        limits = httpx.Limits(max_connections=streams + 5)
        async with httpx.AsyncClient(timeout=10, limits=limits) as client:

            async def first_event() -> str:
                async with client.stream("GET", url) as response:
                    assert response.status_code == 200
                    async for line in response.aiter_lines():
                        if line.startswith("data: "):
                            received.append(line)
                            if len(received) == streams:
                                opened.set()
                            await release.wait()
                            return line
                raise AssertionError("no event")

            received: list[str] = []
            opened, release = asyncio.Event(), asyncio.Event()
            tasks = [asyncio.create_task(first_event()) for _ in range(streams)]
            await asyncio.wait_for(opened.wait(), 10)
            broadcaster = broadcaster_of(live_server.app)
            await asyncio.to_thread(wait_until, lambda: broadcaster.subscriber_count == streams)
            assert broadcaster.poller_count == 1
            release.set()
            assert set(await asyncio.gather(*tasks)) == {'data: {"verified": 0, "goal": 10000}'}

    asyncio.run(scenario())
    broadcaster = broadcaster_of(live_server.app)
    wait_until(lambda: broadcaster.subscriber_count == 0 and broadcaster.poller_count == 0)


def test_unknown_petition_stream_is_a_404_problem(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/v1/petitions/no-such-petition/events", timeout=5)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert getattr(live_server.app.state, "count_broadcaster").subscriber_count == 0


def test_event_stream_is_documented(app: FastAPI) -> None:
    operation = app.openapi()["paths"]["/v1/petitions/{slug}/events"]["get"]
    assert operation["tags"] == ["petitions"]
    assert "Server-Sent Events" in operation["summary"]
    assert "event: count" in operation["description"]
    assert list(operation["responses"]["200"]["content"]) == ["text/event-stream"]
    assert operation["responses"]["404"]["content"]["application/problem+json"]
