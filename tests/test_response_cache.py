"""The per-process micro-cache, api.middleware.response_cache (RESPONSE_CACHE_SECONDS)."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.config import Settings
from api.db import Database
from api.main import create_app
from api.middleware.etag import ETagMiddleware
from api.middleware.response_cache import ResponseCache, ResponseCacheMiddleware
from tests.admin.helpers import auth, make_key
from tests.petitions.helpers import SLUG

PETITION = f"/v1/petitions/{SLUG}"


@pytest.fixture
def cached_client(settings: Settings, clean_database: Database) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"response_cache_seconds": 30}))
    with TestClient(app) as client:
        yield client


def test_a_public_response_is_replayed_with_its_age_and_etag(cached_client: TestClient) -> None:
    first = cached_client.get(PETITION)
    assert first.status_code == 200
    assert "age" not in first.headers
    second = cached_client.get(PETITION)
    assert second.status_code == 200
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["cache-control"] == first.headers["cache-control"]
    assert second.headers["content-security-policy"]  # outer middleware still applies
    assert int(second.headers["age"]) >= 0

    revalidated = cached_client.get(PETITION, headers={"If-None-Match": first.headers["etag"]})
    assert revalidated.status_code == 304
    assert revalidated.content == b""
    assert revalidated.headers["etag"] == first.headers["etag"]
    assert "age" in revalidated.headers


def test_an_admin_edit_is_seen_at_once_and_credentials_bypass_the_cache(
    cached_client: TestClient, clean_database: Database
) -> None:
    assert cached_client.get(PETITION).json()["goal"] != 123_456
    assert "age" in cached_client.get(PETITION).headers
    admin = auth(make_key(clean_database, name="editor"))
    edited = cached_client.patch(
        f"/v1/admin/petitions/{SLUG}", json={"goal": 123_456}, headers=admin
    )
    assert edited.status_code == 200, edited.text
    after = cached_client.get(PETITION)
    assert after.json()["goal"] == 123_456
    assert "age" not in after.headers  # built again, not replayed

    with_key = cached_client.get(PETITION, headers=admin)
    assert "age" not in with_key.headers


def test_a_response_not_marked_public_is_never_replayed(cached_client: TestClient) -> None:
    first = cached_client.get("/readyz")
    assert first.status_code == 200
    assert "public" not in first.headers.get("cache-control", "")
    assert "age" not in cached_client.get("/readyz").headers


def _cached(app: ASGIApp, fresh_seconds: float) -> ResponseCacheMiddleware:
    """`app` behind the ETag layer and the micro-cache, as api.main stacks them."""
    return ResponseCacheMiddleware(ETagMiddleware(app), ResponseCache(fresh_seconds))


def _request(path: str = "/thing") -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": [],
    }


async def _call(app: ResponseCacheMiddleware, scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def _slow_json(cache_control: bytes) -> tuple[list[int], ResponseCacheMiddleware]:
    """A JSON endpoint taking 50 ms that numbers its answers, behind a 0.2 s micro-cache."""
    calls: list[int] = []

    async def slow_json(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(1)
        number = len(calls)
        await anyio.sleep(0.05)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"cache-control", cache_control),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b'{"n": %d}' % number})

    return calls, _cached(slow_json, fresh_seconds=0.2)


def _crowd_after_expiry(cache: ResponseCacheMiddleware) -> list[bytes]:
    """Prime the cache, let the entry expire, then send 20 readers at once: their bodies."""

    async def scenario() -> list[list[Message]]:
        await _call(cache, _request())  # first sight: kept
        await anyio.sleep(0.25)  # expired
        results: list[list[Message]] = []

        async def read() -> None:
            results.append(await _call(cache, _request()))

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(read)
        return results

    return [messages[-1]["body"] for messages in anyio.run(scenario)]


def test_expired_entries_are_rebuilt_once_for_a_crowd_of_readers() -> None:
    calls, cache = _slow_json(b"public, max-age=60")
    bodies = _crowd_after_expiry(cache)
    assert len(calls) == 2
    assert set(bodies) == {b'{"n": 2}'}  # everyone waited for the one rebuild


def test_a_crowd_at_a_cold_url_costs_one_build() -> None:
    calls, cache = _slow_json(b"public, max-age=60")

    async def scenario() -> list[bytes]:
        bodies: list[bytes] = []

        async def read() -> None:
            bodies.append((await _call(cache, _request()))[-1]["body"])

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(read)
        return bodies

    assert set(anyio.run(scenario)) == {b'{"n": 1}'}
    assert len(calls) == 1


def test_a_crowd_at_a_url_that_is_not_shareable_is_not_held_up() -> None:
    calls, cache = _slow_json(b"no-store")

    async def scenario() -> float:
        started = anyio.current_time()
        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(_call, cache, _request())
        return anyio.current_time() - started

    elapsed = anyio.run(scenario)
    assert len(calls) == 5
    # One build takes 50 ms: the others start when the first one's response does (~100 ms in
    # all), not one after another (250 ms).
    assert elapsed < 0.2


def test_during_a_rebuild_others_get_the_old_copy_when_the_response_allows_it() -> None:
    calls, cache = _slow_json(b"public, max-age=60, stale-while-revalidate=30")
    bodies = _crowd_after_expiry(cache)
    assert len(calls) == 2
    assert bodies.count(b'{"n": 2}') == 1  # the reader that rebuilt it
    assert bodies.count(b'{"n": 1}') == 19  # served at once, not made to wait


def test_a_stream_on_the_same_url_never_waits_for_another() -> None:
    started = 0

    async def endless_stream(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal started
        started += 1
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"public, max-age=60"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        await anyio.sleep_forever()

    cache = _cached(endless_stream, fresh_seconds=30)

    async def scenario() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(_call, cache, _request("/events"))
            with anyio.fail_after(2):
                while started < 3:
                    await anyio.sleep(0.01)
            group.cancel_scope.cancel()

    anyio.run(scenario)
    assert started == 3


def test_a_finished_request_never_releases_a_later_build_of_the_same_url() -> None:
    # A: a short stream (not shareable: it lets the waiters go when it starts, ends at 0.1 s).
    # B: arrives at 0.02 s, builds the URL again and starts its answer only at 0.2 s.
    # C: arrives at 0.05 s and waits for B. A ending must not let C go before B has started.
    events: list[tuple[str, float]] = []
    calls = 0

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal calls
        calls += 1
        call = calls
        events.append((f"call {call}", anyio.current_time()))
        if call == 2:
            await anyio.sleep(0.2)
            events.append(("B starts", anyio.current_time()))
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if call == 1:
            await anyio.sleep(0.1)
        await send({"type": "http.response.body", "body": b"data: 1\n\n"})

    cache = _cached(app, fresh_seconds=30)

    async def after(delay: float) -> None:
        await anyio.sleep(delay)
        await _call(cache, _request("/events"))

    async def scenario() -> None:
        async with anyio.create_task_group() as group:
            for delay in (0.0, 0.02, 0.05):
                group.start_soon(after, delay)

    anyio.run(scenario)
    names = [name for name, _ in events]
    assert names.index("B starts") < names.index("call 3")


@pytest.fixture
def statements(clean_database: Database) -> Iterator[list[str]]:
    from sqlalchemy import event

    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(clean_database.engine, "before_cursor_execute", record)
    yield seen
    event.remove(clean_database.engine, "before_cursor_execute", record)


def test_unknown_query_parameters_cannot_force_database_work(
    cached_client: TestClient, statements: list[str]
) -> None:
    # Regression: `/v1/facts?limit=100&x=<random>` missed the cache every time (116/s instead
    # of 8,838/s): each made-up URL was built from the database.
    assert cached_client.get("/v1/facts?limit=100&q=arrest").status_code == 200
    statements.clear()
    for i in range(5):
        response = cached_client.get(f"/v1/facts?limit=100&q=arrest&x={i}")
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "x"
        assert response.json()["errors"][0]["code"] == "unknown_parameter"
    # The same parameters in another order or spelling are the same cached representation.
    for url in ("/v1/facts?q=arrest&limit=100", "/v1/facts?%6Cimit=100&q=%61rrest"):
        response = cached_client.get(url)
        assert response.status_code == 200
        assert "age" in response.headers, url
    assert statements == []


def test_web_pages_tolerate_unknown_parameters(client: TestClient) -> None:
    # Links shared with tracking parameters (utm_source=...) must still open the page.
    assert client.get(f"/petitions/{SLUG}?utm_source=newsletter").status_code == 200
