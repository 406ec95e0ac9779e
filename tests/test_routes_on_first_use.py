"""Routes built on first use (api.routing.RoutesOnFirstUse: the admin API) answer, and are
documented, exactly as routes added at the start."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.routing import ADMIN_PREFIX, RoutesOnFirstUse


def _waiting(app: FastAPI) -> list[RoutesOnFirstUse]:
    return [route for route in app.router.routes if isinstance(route, RoutesOnFirstUse)]


def test_the_admin_api_is_built_by_its_first_request_in_its_place(app: FastAPI) -> None:
    # FastAPI builds its own routes (the docs, the document) into the list too: only what was
    # around the stand-in must stay, in order.
    [waiting] = _waiting(app)
    place = app.router.routes.index(waiting)
    before, after = app.router.routes[:place], app.router.routes[place + 1 :]
    with TestClient(app) as client:
        answer = client.get(f"{ADMIN_PREFIX}/petitions")  # no key
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
    assert not _waiting(app)
    routes = app.router.routes
    admin = routes[place : len(routes) - len(after)]
    assert routes[:place] == before and routes[len(routes) - len(after) :] == after
    assert admin and all(route.path.startswith(ADMIN_PREFIX) for route in admin)  # type: ignore[attr-defined]


def test_a_first_request_under_the_prefix_answers_as_it_does_once_built(settings) -> None:
    from api.main import create_app

    built = create_app(settings)
    with TestClient(built) as client:
        client.get(f"{ADMIN_PREFIX}/petitions")
    assert not _waiting(built)
    requests = [
        ("GET", f"{ADMIN_PREFIX}/no-such-thing"),  # 404 from the router
        ("PUT", f"{ADMIN_PREFIX}/petitions"),  # 405 with Allow
        ("GET", f"{ADMIN_PREFIX}istrator"),  # under the prefix's text, not its path
    ]
    for method, path in requests:
        fresh = create_app(settings)  # the request is its first: through RoutesOnFirstUse
        with TestClient(fresh) as first_client, TestClient(built) as built_client:
            first = first_client.request(method, path)
            again = built_client.request(method, path)
        assert not _waiting(fresh)
        assert first.status_code == again.status_code, path
        assert first.status_code in (404, 405), path
        assert first.headers.get("allow") == again.headers.get("allow"), path
        body_first, body_again = first.json(), again.json()
        body_first.pop("instance", None)
        body_again.pop("instance", None)
        assert body_first == body_again, path


def test_the_document_lists_the_admin_api_before_any_admin_request(app: FastAPI) -> None:
    with TestClient(app) as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert f"{ADMIN_PREFIX}/petitions" in paths
    assert not _waiting(app)


def test_a_build_that_fails_leaves_the_routes_as_they_were(app: FastAPI) -> None:
    [waiting] = _waiting(app)
    routes = list(app.router.routes)
    added = waiting.add

    def add_then_fail(app: FastAPI, router) -> None:  # type: ignore[no-untyped-def]
        added(app, router)
        raise RuntimeError("a router that cannot be added")

    waiting.add = add_then_fail
    with pytest.raises(RuntimeError):
        waiting.build()
    assert app.router.routes == routes  # nothing half added; the stand-in still stands
    waiting.add = added
    waiting.build()
    assert not _waiting(app)
