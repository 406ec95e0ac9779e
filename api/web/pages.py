"""What every page shares: static files with content-hashed URLs, the Jinja2 templates, and
`render()`, which gives a page its language, its data block for scripts and its share card.

Pages are rendered on the server from the same services that back the JSON API, so they read
and work without JavaScript; the scripts in static/js only make them nicer. The strict
Content-Security-Policy of pages (api.middleware.security_headers) forbids inline scripts and
styles: all behaviour and styling live in files under /static.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path as FilePath
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.utils import htmlsafe_json_dumps
from sqlmodel import Session
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from api.db import Database
from api.petitions.models import SLUG_MAX
from api.web.i18n import LANGUAGES, choose_language, fill, strings
from api.web.share import SHARE_IMAGE_SIZE

WEB_DIR = FilePath(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"

# The shell of a page may be cached briefly (the count in it is refreshed live); pages reached
# by an emailed link carry a token in their URL and are never stored.
PAGE_CACHE = "public, max-age=60"
LINK_PAGE_CACHE = "no-store"
ASSET_CACHE_VERSIONED = "public, max-age=31536000, immutable"
ASSET_CACHE_PLAIN = "public, max-age=300"

TOKEN_MAX = 128
SITE_ICON = "img/icon-512.png"
SITE_ICON_SIZE = 512


# --- static files ---------------------------------------------------------------------------


@lru_cache(maxsize=64)
def asset_version(relative_path: str) -> str | None:
    """A short hash of a static file's bytes, or None if there is no such file."""
    path = (STATIC_DIR / relative_path).resolve()
    if not path.is_file() or STATIC_DIR not in path.parents:
        return None
    return hashlib.blake2b(path.read_bytes(), digest_size=6).hexdigest()


def static_url(relative_path: str) -> str:
    """The URL of a static file with its content hash, so it may be cached for a year."""
    version = asset_version(relative_path)
    if version is None:
        raise FileNotFoundError(relative_path)
    return f"/static/{relative_path}?v={version}"


class StaticAssets(StaticFiles):
    """Files from static/, cached for a year when asked for by their current content hash."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            query = dict(
                pair.split("=", 1)
                for pair in scope.get("query_string", b"").decode("latin-1").split("&")
                if "=" in pair
            )
            current = asset_version(path)
            versioned = current is not None and query.get("v") == current
            response.headers["Cache-Control"] = (
                ASSET_CACHE_VERSIONED if versioned else ASSET_CACHE_PLAIN
            )
        return response


# --- templates ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def templates() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["static"] = static_url
    environment.filters["fill"] = fill
    return environment


@dataclass(frozen=True)
class PageLinks:
    """Links that keep the visitor's explicit language choice (`?lang=`)."""

    lang: str
    explicit: bool

    def to(self, path: str, **params: str) -> str:
        if self.explicit:
            params = {**params, "lang": self.lang}
        return f"{path}?{urlencode(params)}" if params else path


@dataclass(frozen=True)
class PageMeta:
    """What a shared link's card shows (Open Graph, X) and the absolute canonical URL."""

    canonical: str
    title: str
    description: str
    image: str
    image_alt: str
    image_width: int
    image_height: int
    large_card: bool


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    cache: str = PAGE_CACHE,
    page_data: Mapping[str, Any] | None = None,
    canonical_path: str | None = None,
    title: str | None = None,
    description: str | None = None,
    share_image: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page with its language switch, its data block for scripts, and its share card.

    `share_image` is a petition's share image path (a large card); other pages show the
    site's icon. Links in the card are absolute, from PUBLIC_BASE_URL.
    """
    choice = choose_language(request)
    t = strings(choice.lang)
    links = PageLinks(choice.lang, choice.explicit)
    base = request.app.state.settings.public_base_url
    image_path = links.to(share_image) if share_image else static_url(SITE_ICON)
    meta = PageMeta(
        canonical=base + links.to(canonical_path or request.url.path),
        title=title or t["site_name"],
        description=description or t["meta_description"],
        image=base + image_path,
        image_alt=t["share_image_alt"] if share_image else t["site_name"],
        image_width=SHARE_IMAGE_SIZE[0] if share_image else SITE_ICON_SIZE,
        image_height=SHARE_IMAGE_SIZE[1] if share_image else SITE_ICON_SIZE,
        large_card=share_image is not None,
    )
    switch = [
        {
            "lang": code,
            "name": t[f"lang_name_{code}"],
            "href": f"{request.url.path}?" + urlencode({**request.query_params, "lang": code}),
            "current": code == choice.lang,
        }
        for code in LANGUAGES
    ]
    html = (
        templates()
        .get_template(template)
        .render(
            lang=choice.lang,
            t=t,
            links=links,
            meta=meta,
            og_locale="es_US" if choice.lang == "es" else "en_US",
            language_switch=switch,
            # What the page's script needs, as a JSON data block (not run, so CSP allows it).
            page_json=htmlsafe_json_dumps(
                {"lang": choice.lang, "langParam": choice.explicit, "strings": dict(t)}
                | dict(page_data or {})
            ),
            **context,
        )
    )
    headers = {"Cache-Control": cache, "Content-Language": choice.lang}
    if not choice.explicit:
        headers["Vary"] = "Accept-Language"
    return HTMLResponse(html, status_code=status_code, headers=headers)


def not_found_page(request: Request) -> HTMLResponse:
    return render(request, "not_found.html", status_code=404, cache="no-cache")


def impossible_slug_page(request: Request, slug: str) -> HTMLResponse | None:
    """The not-found page for a slug longer than any petition's (SLUG_MAX), answered before
    anything reads the body, the database or a cache with it; None for any other slug."""
    return not_found_page(request) if len(slug) > SLUG_MAX else None


Result = TypeVar("Result")


async def read_in_thread(database: Database, read: Callable[[Session], Result]) -> Result:
    """`read` in a session of its own, in the thread pool: how an async form handler reads
    what it shows once its unit of work has committed."""

    def run() -> Result:
        with database.session() as session:
            return read(session)

    return await run_in_threadpool(run)
