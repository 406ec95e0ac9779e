"""HTML for signers: the petition page with its form, the confirm and withdraw pages, and the
signer's own signatures (/my-signatures).

Pages are rendered on the server from the same services that back the JSON API (the text, the
facts with their quotes, the count at load time), so they read without JavaScript. The script
in static/js then does what needs it, through the public API only, as any other frontend
would: it signs (`POST /v1/petitions/{slug}/signatures`), keeps the count live
(`/v1/petitions/{slug}/events`, falling back to polling `/count`), confirms or withdraws, and
lists and withdraws a signer's own signatures (`/v1/signatures/access`, `/mine`).

The strict Content-Security-Policy of pages (api.http) forbids inline scripts and styles: all
behaviour and styling live in files under /static.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path as FilePath
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.utils import htmlsafe_json_dumps
from sqlmodel import Session
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from api.deps import ReadSession
from api.errors import NotFound
from api.incident import service as incident
from api.incident.models import DiscrepancyKind, FactPublic, SourcePublic
from api.incident.support import FACT_REFERENCE
from api.pagination import MAX_LIMIT, PageParams
from api.petitions import service as petitions
from api.petitions.models import SLUG_MAX, PetitionPublic, PetitionStatus
from api.petitions.validation import COUNTRIES
from api.web import events
from api.web.i18n import LANGUAGES, choose_language, strings

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
MAX_FACT_PAGES = 20


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


def fill(text: str, **values: Any) -> str:
    """Put values into a page string's `{name}` placeholders."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


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


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    cache: str = PAGE_CACHE,
    page_data: Mapping[str, Any] | None = None,
    **context: Any,
) -> HTMLResponse:
    choice = choose_language(request)
    t = strings(choice.lang)
    links = PageLinks(choice.lang, choice.explicit)
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


# --- the petition, as the page shows it -----------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A `[fact:id]` in the text, shown as a numbered link to the fact."""

    number: int
    fact_id: str


@dataclass(frozen=True)
class Quote:
    text: str
    source_id: str


@dataclass(frozen=True)
class FactItem:
    number: int
    id: str
    statement: str
    status: str
    quotes: list[Quote]
    # Distinct sources quoted (a source quoted twice counts once).
    source_count: int
    # Whether a `wording` discrepancy concerns it: the sources word it differently.
    worded_differently: bool


@dataclass(frozen=True)
class SourceLabel:
    """How the page names a source: its label (headline or opening words), else "Source N",
    and which of publisher and date the text leaves unstated."""

    number: int
    label: str | None
    missing: str | None  # "publisher_date", "publisher", "date", or None

    @classmethod
    def of(cls, number: int, source: SourcePublic) -> SourceLabel:
        unstated = [
            name
            for name, value in (("publisher", source.publisher), ("date", source.published))
            if value is None
        ]
        return cls(number, source.label, "_".join(unstated) or None)


def case_paragraphs(
    body: str, known_facts: Mapping[str, FactPublic]
) -> tuple[list[list[str | Reference]], list[str]]:
    """Split the case into paragraphs of text and fact references, numbered in order of first
    mention; references to facts that do not exist are dropped. Returns the paragraphs and the
    ids of the facts cited, in number order."""
    numbers: dict[str, int] = {}
    paragraphs: list[list[str | Reference]] = []
    for raw in re.split(r"\n\s*\n", body.strip()):
        parts: list[str | Reference] = []
        position = 0
        for match in FACT_REFERENCE.finditer(raw):
            fact_id = match.group(1)
            # "school [fact:a] [fact:b]." reads "school[1][2]." like footnote marks.
            text = raw[position : match.start()].rstrip()
            position = match.end()
            if text:
                parts.append(text)
            if fact_id not in known_facts:
                continue
            number = numbers.setdefault(fact_id, len(numbers) + 1)
            parts.append(Reference(number, fact_id))
        parts.append(raw[position:])
        paragraphs.append(_merge_text(parts))
    return paragraphs, list(numbers)


def _merge_text(parts: list[str | Reference]) -> list[str | Reference]:
    merged: list[str | Reference] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    return merged


def _all_facts(session: Session) -> dict[str, FactPublic]:
    facts: dict[str, FactPublic] = {}
    cursor: str | None = None
    for _ in range(MAX_FACT_PAGES):
        page, cursor = incident.list_facts(
            session, incident.FactFilters(), PageParams(limit=MAX_LIMIT, cursor=cursor)
        )
        facts.update((fact.id, fact) for fact in page)
        if cursor is None:
            break
    return facts


def _source_labels(session: Session) -> dict[str, SourceLabel]:
    """How to name each source, by id; its number is its place in the list ("Source 2")."""
    sources, _ = incident.list_sources(session, PageParams(limit=MAX_LIMIT, cursor=None))
    return {source.id: SourceLabel.of(number, source) for number, source in enumerate(sources, 1)}


def _worded_differently(session: Session) -> set[str]:
    """Facts that a `wording` discrepancy concerns."""
    found: set[str] = set()
    cursor: str | None = None
    for _ in range(MAX_FACT_PAGES):
        page, cursor = incident.list_discrepancies(
            session, PageParams(limit=MAX_LIMIT, cursor=cursor), DiscrepancyKind.wording
        )
        found.update(fact_id for discrepancy in page for fact_id in discrepancy.fact_ids)
        if cursor is None:
            break
    return found


def signing_state(petition: PetitionPublic, now: dt.datetime) -> str:
    """`open`, `not_yet_open` or `closed`: whether the form is shown."""
    if petition.status != PetitionStatus.open:
        return "closed"
    if petition.opens_at is not None and now < petition.opens_at:
        return "not_yet_open"
    if petition.closes_at is not None and now >= petition.closes_at:
        return "closed"
    return "open"


def _petition_page(request: Request, session: Session, slug: str) -> HTMLResponse:
    try:
        # The petition's text in the page's language, when it has that text.
        petition = petitions.get_petition(session, slug, choose_language(request).lang)
    except NotFound:
        return not_found_page(request)
    facts = _all_facts(session)
    paragraphs, cited = case_paragraphs(petition.body, facts)
    worded_differently = _worded_differently(session)
    fact_items = [
        FactItem(
            number=number,
            id=fact.id,
            statement=fact.statement,
            status=fact.status.value,
            quotes=[Quote(c.quote, c.source_id) for c in fact.citations],
            source_count=len({c.source_id for c in fact.citations}),
            worded_differently=fact.id in worded_differently,
        )
        for number, fact in enumerate((facts[fact_id] for fact_id in cited), 1)
    ]
    state = signing_state(petition, dt.datetime.now(dt.UTC))
    page_data = {
        "slug": petition.slug,
        "verified": petition.verified_count,
        "goal": petition.goal,
        "signUrl": f"/v1/petitions/{petition.slug}/signatures",
        "eventsUrl": f"/v1/petitions/{petition.slug}/events",
        "countUrl": f"/v1/petitions/{petition.slug}/count",
    }
    return render(
        request,
        "petition.html",
        petition=petition,
        paragraphs=paragraphs,
        facts=fact_items,
        sources=_source_labels(session),
        signing=state,
        countries=sorted(COUNTRIES),
        page_data=page_data,
        canonical=f"/petitions/{petition.slug}",
    )


def not_found_page(request: Request) -> HTMLResponse:
    return render(request, "not_found.html", status_code=404, cache="no-cache")


# --- routes ---------------------------------------------------------------------------------


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    broadcaster: events.CountBroadcaster | None = getattr(app.state, "count_broadcaster", None)
    if broadcaster is not None:
        await broadcaster.close()


router = APIRouter(lifespan=_lifespan)
router.mount("/static", StaticAssets(directory=STATIC_DIR), name="static")
router.include_router(events.router)


@router.get("/", include_in_schema=False, response_class=HTMLResponse)
def home_page(request: Request, session: ReadSession) -> HTMLResponse:
    """The open petition (the oldest, if several are open)."""
    listed, _ = petitions.list_petitions(session, PageParams(limit=MAX_LIMIT, cursor=None))
    now = dt.datetime.now(dt.UTC)
    # One taking signatures now, else one about to, else the latest closed one.
    chosen = (
        next((p for p in listed if signing_state(p, now) == "open"), None)
        or next((p for p in listed if p.status == PetitionStatus.open), None)
        or (listed[-1] if listed else None)
    )
    if chosen is None:
        return not_found_page(request)
    return _petition_page(request, session, chosen.slug)


@router.get("/petitions/{slug}", include_in_schema=False, response_class=HTMLResponse)
def petition_page(request: Request, session: ReadSession, slug: str) -> HTMLResponse:
    if len(slug) > SLUG_MAX:
        return not_found_page(request)
    return _petition_page(request, session, slug)


def _token_page(request: Request, action: str) -> HTMLResponse:
    token = request.query_params.get("token", "")
    has_token = 0 < len(token) <= TOKEN_MAX
    return render(
        request,
        "token.html",
        action=action,
        has_token=has_token,
        cache=LINK_PAGE_CACHE,
        page_data={"action": action, "hasToken": has_token},
    )


@router.get("/confirm", include_in_schema=False, response_class=HTMLResponse)
def confirm_page(request: Request) -> HTMLResponse:
    """The emailed confirmation link: the page confirms through the API as it opens."""
    return _token_page(request, "confirm")


@router.get("/withdraw", include_in_schema=False, response_class=HTMLResponse)
def withdraw_page(request: Request) -> HTMLResponse:
    """The emailed withdrawal link. Withdrawing takes a click: mail scanners open links."""
    return _token_page(request, "withdraw")


@router.get("/my-signatures", include_in_schema=False, response_class=HTMLResponse)
def my_signatures_page(request: Request) -> HTMLResponse:
    """A signer's own signatures.

    With the token of the emailed access link, the page lists them through the API (the token
    travels only in POST bodies) and withdraws one after a confirm step; opening the link
    changes nothing. Without a token it asks for the email address to send such a link to.
    Like /confirm and /withdraw, never stored by a cache (its URL may carry a token).
    """
    token = request.query_params.get("token", "")
    has_token = 0 < len(token) <= TOKEN_MAX
    return render(
        request,
        "my_signatures.html",
        cache=LINK_PAGE_CACHE,
        has_token=has_token,
        bad_link=len(token) > TOKEN_MAX,
        page_data={
            "hasToken": has_token,
            "accessUrl": "/v1/signatures/access",
            "mineUrl": "/v1/signatures/mine",
            "withdrawUrl": "/v1/signatures/mine/withdraw",
        },
    )
