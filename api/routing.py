"""The route class of the JSON API."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
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
