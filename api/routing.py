"""The route class of the JSON API."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, _DefaultLifespan
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from api.errors import UnprocessableContent, coded_error

API_PREFIX = "/v1/"


def _query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters a route declares (itself and through its dependencies), worked
    out once per route and kept on it (routes are not hashable)."""
    known: frozenset[str] | None = getattr(route, "_advocacy_query_names", None)
    if known is not None:
        return known
    names: set[str] = set()
    todo: list[Dependant] = [route.dependant]
    while todo:
        dependant = todo.pop()
        todo.extend(dependant.dependencies)
        for param in dependant.query_params:
            model = param.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):  # a Query() model
                names.update(f.alias or n for n, f in model.model_fields.items())
            else:
                names.add(param.alias)
    known = frozenset(names)
    route._advocacy_query_names = known  # type: ignore[attr-defined]
    return known


class ApiRoute(APIRoute):
    """A route of the JSON API (under /v1/): a request naming a query parameter the route does
    not take is a 422 naming it, as an unknown body field is.

    Why refuse rather than ignore: a typo (`limt=5`) would silently answer something else, and
    every made-up parameter would be a new URL for the response cache, forcing a database read
    each (finding: `&x=<random>` cut /v1/facts from 8,838 to 116 answers a second). Web pages
    (outside /v1/) take links with tracking parameters, so they are left alone.

    Checked here, when the route is chosen, rather than as an app-wide dependency: that cost
    every request a dependency solve (a sixth of a trivial request's work), and this costs a
    request without a query string nothing.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["query_string"] and scope["path"].startswith(API_PREFIX):
            _refuse_unknown_query_parameters(scope, self)
        await super().handle(scope, receive, send)


def _refuse_unknown_query_parameters(scope: Scope, route: APIRoute) -> None:
    given = {name for name, _ in parse_qsl(scope["query_string"].decode("latin-1"), True)}
    unknown = sorted(given - _query_names(route))
    if unknown:
        raise UnprocessableContent(
            f"Unknown query parameter: {', '.join(unknown[:5])}.",
            errors=[coded_error(["query", name], "unknown_parameter") for name in unknown[:20]],
        )


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """Put `router`'s routes in the app's own list, in order, instead of including the router.

    Why: FastAPI matches an included router's routes twice per request (once to choose the
    router, then again inside it to choose the route), and wraps each in a context object:
    for signing that was ~300 of its ~1,000 Python calls (`python -m bench.calls`). Routes
    built by an APIRouter already carry its prefix, tags, dependencies and id function, so for
    the busy routers this changes no answer and no line of /openapi.json (a test compares).
    Only plain API routes: a router with its own lifespan, mounts or routers is included."""
    if (
        not isinstance(router.lifespan_context, _DefaultLifespan)
        or router.on_startup
        or router.on_shutdown
        or not all(type(route) in (APIRoute, ApiRoute) for route in router.routes)
    ):
        raise ValueError("only a router of plain API routes can be added route by route")
    app.router.routes.extend(router.routes)
