"""The route class of the JSON API."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_typed_return_annotation, request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, _DefaultLifespan
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import UnprocessableContent, coded_error

if TYPE_CHECKING:
    from fastapi._compat import ModelField

API_PREFIX = "/v1/"
ADMIN_PREFIX = "/v1/admin"


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

    A route whose endpoint takes only its path parameters and the request, and returns a
    `Response` (the hot ones: signing, confirming, /healthz), is run without FastAPI's generic
    request handler: see `_lean_app`. Only routes the app holds itself (`add_routes`) can be:
    for a router's routes included with `include_router`, FastAPI builds its own handler.
    """

    # Set by add_routes, which puts the route in the app's own list: it is then matched on
    # its own path, never through an included router's (whose prefix FastAPI adds).
    matched_on_own_path = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if _is_lean(self):
            self.app = _lean_app(self)
        # The path's text before its first parameter and after its last (all of it when it
        # has none): every path the route's pattern matches starts and ends with them.
        head, brace, rest = self.path_format.partition("{")
        self._path_head = head
        self._path_tail = rest.rpartition("}")[2] if brace else None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """FastAPI's answer, after a cheap refusal of a path the route's pattern cannot match.

        Why: the app tries its routes in order, and signing's route is the ninth; each route
        passed over cost FastAPI's matching and a regular expression, a twentieth of a
        signature's time in the event loop together (`python -m bench.calls`)."""
        if self.matched_on_own_path and scope["type"] == "http" and not scope.get("root_path"):
            path: str = scope["path"]
            tail = self._path_tail
            if tail is None:
                refused = path != self._path_head
            else:
                refused = not (path.startswith(self._path_head) and path.endswith(tail))
            if refused:
                return Match.NONE, {}
        return super().matches(scope)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["query_string"] and scope["path"].startswith(API_PREFIX):
            _refuse_unknown_query_parameters(scope, self)
        await super().handle(scope, receive, send)


def _is_lean(route: APIRoute) -> bool:
    """Whether the endpoint needs nothing of FastAPI's request handler but its path
    parameters: no dependency (the router's included), no query, header, cookie or body
    parameter, none of the special parameters (Response, BackgroundTasks, ...), async, and
    a `Response` returned as it is (nothing to serialise)."""
    dependant = route.dependant
    returned = get_typed_return_annotation(dependant.call) if dependant.call else None
    return (
        inspect.iscoroutinefunction(dependant.call)
        and inspect.isclass(returned)
        and issubclass(returned, Response)
        and not (
            dependant.dependencies
            or dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
            or dependant.http_connection_param_name
            or dependant.websocket_param_name
            or dependant.response_param_name
            or dependant.background_tasks_param_name
            or dependant.security_scopes_param_name
        )
    )


def _lean_app(route: APIRoute) -> ASGIApp:
    """What FastAPI's handler does for a lean route (`_is_lean`), and only that: validate the
    path parameters (a failure is the same `RequestValidationError`), call the endpoint, send
    its response. Its exceptions reach the app's exception handlers, as from any route.

    Why: the generic handler (two exit stacks, the exception wrapper, dependency solving for
    no dependencies, the response checks) was a third of a signature's time in the event
    loop (`python -m bench.calls`)."""
    dependant = route.dependant
    call = dependant.call
    read_path_parameters = _path_parameter_reader(dependant.path_params)
    request_name = dependant.request_param_name
    assert call is not None

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        values, errors = read_path_parameters(request.path_params)
        if errors:
            raise RequestValidationError(errors)
        if request_name:
            values[request_name] = request
        response: Response = await call(**values)
        await response(scope, receive, send)

    return app


PathParameterReader = Callable[[dict[str, Any]], tuple[dict[str, Any], list[Any]]]


def _path_parameter_reader(fields: list[ModelField]) -> PathParameterReader:
    """`request_params_to_args(fields, path_params)` for a route's path parameters: the same
    values, or the same errors, each field validated by its own validator.

    Why: FastAPI's function works out, for every parameter of every request, where the value
    could come from (a model of parameters, its aliases, a list from a query string or a
    form); a path parameter is one string under its alias, always there once the route
    matched. That work was a tenth of a signature's time in the event loop (`python -m
    bench.calls`). A field this does not cover (a model of parameters, a validation alias)
    is read by FastAPI's function, as before."""
    plain = [
        (field.name, field.alias, ("path", field.alias), field)
        for field in fields
        if getattr(field, "validation_alias", None) is None
        and field.field_info.validation_alias is None
        and not (
            inspect.isclass(field.field_info.annotation)
            and issubclass(field.field_info.annotation, BaseModel)
        )
    ]
    if len(plain) != len(fields):
        return lambda path_params: request_params_to_args(fields, path_params)

    def read(path_params: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        values: dict[str, Any] = {}
        errors: list[Any] = []
        for name, alias, loc, field in plain:
            if alias not in path_params:  # not from a route that matched: FastAPI's way
                return request_params_to_args(fields, path_params)
            value, field_errors = field.validate(path_params[alias], values, loc=loc)
            if field_errors:
                errors.extend(field_errors)
            else:
                values[name] = value
        return values, errors

    return read


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
    for signing that was ~300 of its ~1,000 Python calls (`python -m bench.calls`). And
    FastAPI builds an included route again for each router that includes it (its
    dependencies solved, its models' validators made): a tenth of the app's import, in
    Python calls. Routes built by an APIRouter already carry its prefix, tags, dependencies
    and id function, so this changes no answer and no line of /openapi.json (a test
    compares). Only plain API routes: a router with its own lifespan, mounts or routers is
    refused."""
    routes = [route for route in router.routes if isinstance(route, APIRoute)]
    if (
        not isinstance(router.lifespan_context, _DefaultLifespan)
        or router.on_startup
        or router.on_shutdown
        or len(routes) != len(router.routes)
    ):
        raise ValueError("only a router of plain API routes can be added route by route")
    name_operation = app.router.generate_unique_id_function
    for route in routes:
        # Included, a route would take the app's operation id; added, it keeps its router's.
        if route.include_in_schema and route.unique_id != name_operation(route):
            raise ValueError(f"{route.path}: give its router the app's generate_unique_id_function")
    for route in routes:
        if isinstance(route, ApiRoute):
            route.matched_on_own_path = True
    app.router.routes.extend(router.routes)


class RoutesOnFirstUse(BaseRoute):
    """Stands in the app's route list for routers that are imported and added (`add`) only
    when first needed: a request under `prefix`, or the OpenAPI document
    (`add_routes_on_first_use`).

    Why: the admin API's modules and their 42 routes were about an eighth of a start's CPU
    (the import of the app, measured with and without them), and no request a starting
    service must answer (its probes, signing, the page) needs them. Their routes take this
    one's place in the list, so the order routes are matched in, and so every answer and the
    document, is the same as if they had been added at the start. A worker builds them once,
    on the first request that needs them (0.1-0.15 s, measured)."""

    def __init__(
        self,
        app: FastAPI,
        prefix: str,
        load: Callable[[], Iterable[APIRouter]],
        add: Callable[[FastAPI, APIRouter], None],
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.load = load
        self.add = add
        self._building = threading.Lock()

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            return Match.FULL, {}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.build()
        await self.app.router.app(scope, receive, send)  # matched again, among the real routes

    def build(self) -> None:
        with self._building:
            routes = self.app.router.routes
            if self not in routes:
                return  # built already
            # `add` appends; the list is put in order in one step, so a request matched
            # meanwhile (another thread may build: the document) sees every other route.
            count = len(routes)
            try:
                for router in self.load():
                    self.add(self.app, router)
            except BaseException:
                del routes[count:]
                raise
            index = routes.index(self)
            routes[:] = [*routes[:index], *routes[count:], *routes[index + 1 : count]]

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        self.build()
        return self.app.router.url_path_for(name, **path_params)


def add_routes_on_first_use(
    app: FastAPI,
    prefix: str,
    load: Callable[[], Iterable[APIRouter]],
    add: Callable[[FastAPI, APIRouter], None] = add_routes,
) -> None:
    """Add the routers `load()` gives when first needed, in this place of the route list
    (RoutesOnFirstUse)."""
    app.router.routes.append(RoutesOnFirstUse(app, prefix, load, add))


def build_routes_on_first_use(app: FastAPI) -> None:
    """Add every router still waiting for its first use (for what reads the whole route list:
    the OpenAPI document)."""
    for route in list(app.router.routes):
        if isinstance(route, RoutesOnFirstUse):
            route.build()
