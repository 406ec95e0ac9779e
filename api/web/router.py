"""HTML for signers: the petition page with its form, the about page, the petition's share
image, and what browsers and crawlers ask of a site (favicon, robots.txt). The pages behind
emailed links are in api.web.links; what every page shares is in api.web.pages.

Pages are rendered on the server from the same services that back the JSON API (the text, the
facts with their quotes, the count at load time, the momentum), so they read and work without
JavaScript: the form posts to `/petitions/{slug}/sign`. The script in static/js makes it nicer,
through the public API only, as any other frontend would: it signs
(`POST /v1/petitions/{slug}/signatures`) without leaving the page and keeps the count live
(`/v1/petitions/{slug}/events`, falling back to polling `/count`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse
from pydantic import ValidationError
from sqlmodel import Session
from starlette.responses import Response

from api.abuse.deps import signing_allowance
from api.config import Settings
from api.db import Database
from api.deps import DatabaseDep, ReadSession
from api.errors import (
    AppError,
    Conflict,
    NotFound,
    TooManyRequests,
    UnprocessableContent,
    validation_field_errors,
)
from api.groupcommit import GroupCommit
from api.incident import reads as incident
from api.incident.models import DiscrepancyKind
from api.incident.schemas import FactPublic, SourcePublic
from api.incident.support import FACT_REFERENCE
from api.pagination import MAX_LIMIT, PageParams
from api.petitions import service as petitions
from api.petitions.models import (
    SLUG_MAX,
    PetitionPublic,
    PetitionStatus,
    SignatureCreate,
    known_referral,
    signing_state,
)
from api.petitions.router import signing_context
from api.web import events, links, share
from api.web.forms import (
    FORM_VALUES,
    field_messages,
    form_token,
    from_this_site,
    missing_fields,
    read_form,
    signature_fields,
    valid_form_token,
)
from api.web.i18n import choose_language, country_names, strings
from api.web.momentum import county_map, next_milestone
from api.web.pages import (
    ASSET_CACHE_PLAIN,
    LINK_PAGE_CACHE,
    PAGE_CACHE,
    STATIC_DIR,
    TEMPLATES_DIR,
    StaticAssets,
    fill,
    format_number,
    not_found_page,
    render,
)

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "fill", "router"]

# What the signing form says when the service refuses, by its error (as petition.js does).
FORM_FAILURES: dict[type[AppError], str] = {
    Conflict: "not_open",
    TooManyRequests: "rate_limited",
}
MAX_FACT_PAGES = 20


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


def page_signing_state(petition: PetitionPublic, now: dt.datetime) -> str:
    """`open`, `not_yet_open` or `closed`: whether the form is shown."""
    return signing_state(petition.status, petition.opens_at, petition.closes_at, now).value


@dataclass
class SignForm:
    """The signing form as the page shows it: what was entered, the errors next to fields,
    a message above the button, and the address the link went to once signed."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    signed_email: str | None = None


RECENT_SIGNERS = 5


def _petition_page(
    request: Request,
    session: Session,
    slug: str,
    form: SignForm | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
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
    state = page_signing_state(petition, dt.datetime.now(dt.UTC))
    lang = choose_language(request).lang
    settings = request.app.state.settings
    milestone = next_milestone(petition.verified_count, petition.goal, petition.milestones)
    # The same numbers as /v1/petitions/{slug}/stats, from the same per-process cache.
    stats = request.app.state.stats_cache.get(
        petition.slug, lambda: petitions.stats(session, petition.slug)
    )
    recent, _ = petitions.recent_signatures(
        session, petition.slug, PageParams(limit=RECENT_SIGNERS, cursor=None)
    )
    ref = known_referral(request.query_params.get("ref"))
    page_data = {
        "slug": petition.slug,
        "verified": petition.verified_count,
        "goal": petition.goal,
        "milestones": petition.milestones,
        "signUrl": f"/v1/petitions/{petition.slug}/signatures",
        "eventsUrl": f"/v1/petitions/{petition.slug}/events",
        "countUrl": f"/v1/petitions/{petition.slug}/count",
    }
    form = form or SignForm()
    return render(
        request,
        "petition.html",
        status_code=status_code,
        cache=PAGE_CACHE if form == SignForm() else LINK_PAGE_CACHE,
        petition=petition,
        paragraphs=paragraphs,
        facts=fact_items,
        sources=_source_labels(session),
        signing=state,
        countries=country_names(lang),
        form=form,
        form_token=form_token(settings.secret(), f"sign|{petition.slug}"),
        ref=known_referral(form.values.get("ref")) or ref or "",
        milestone=milestone,
        milestone_progress=min(petition.verified_count, milestone),
        recent=recent,
        county_map=county_map(stats.by_florida_county),
        page_data=page_data,
        canonical_path=f"/petitions/{petition.slug}",
        title=petition.title,
        description=petition.ask,
        share_image=f"/petitions/{petition.slug}/share.png",
        **share.share_context(request, petition, lang),
    )


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
router.include_router(links.router)


def _home_slug(session: Session) -> str | None:
    """The open petition (the oldest, if several are open)."""
    listed, _ = petitions.list_petitions(session, PageParams(limit=MAX_LIMIT, cursor=None))
    now = dt.datetime.now(dt.UTC)
    # One taking signatures now, else one about to, else the latest closed one.
    chosen = (
        next((p for p in listed if page_signing_state(p, now) == "open"), None)
        or next((p for p in listed if p.status == PetitionStatus.open), None)
        or (listed[-1] if listed else None)
    )
    return chosen.slug if chosen else None


@router.get("/", include_in_schema=False, response_class=HTMLResponse)
def home_page(request: Request, session: ReadSession) -> HTMLResponse:
    slug = _home_slug(session)
    if slug is None:
        return not_found_page(request)
    return _petition_page(request, session, slug)


@router.get("/petitions/{slug}", include_in_schema=False, response_class=HTMLResponse)
def petition_page(request: Request, session: ReadSession, slug: str) -> HTMLResponse:
    if len(slug) > SLUG_MAX:
        return not_found_page(request)
    return _petition_page(request, session, slug)


@router.post("/petitions/{slug}/sign", include_in_schema=False, response_class=HTMLResponse)
async def sign_form(
    request: Request, slug: str, committer: GroupCommit, database: DatabaseDep
) -> HTMLResponse:
    """The signing form without JavaScript: the JSON API's validation, rate limit and service,
    answered with the page (errors next to the fields, or the thank-you state)."""
    if len(slug) > SLUG_MAX:
        return not_found_page(request)
    settings: Settings = request.app.state.settings
    lang = choose_language(request).lang
    t = strings(lang)
    form = await read_form(request)
    values = {name: form.get(name, "") for name in FORM_VALUES}
    state = SignForm(values=values)
    if not (
        from_this_site(request, settings.public_base_url)
        and valid_form_token(settings.secret(), f"sign|{slug}", form.get("form_token", ""))
    ):
        state.message = t["form_expired"]
        return await _petition_page_async(database, request, slug, state, 403)
    state.errors = missing_fields(form, t)
    body: SignatureCreate | None = None
    if not state.errors:
        try:
            body = SignatureCreate.model_validate(signature_fields(form, lang))
        except ValidationError as exc:
            state.errors = field_messages(validation_field_errors(exc.errors()), lang, t)
    if body is None:
        state.message = t["errors_summary"]
        return await _petition_page_async(database, request, slug, state, 422)
    try:
        async with signing_allowance(request, Response()):
            context = signing_context(request, settings)
            await committer.run(lambda session: petitions.sign(session, slug, body, context))
    except UnprocessableContent as exc:
        state.errors = field_messages(exc.errors or [], lang, t)
        state.message = t["errors_summary"]
        return await _petition_page_async(database, request, slug, state, 422)
    except NotFound:
        return not_found_page(request)
    except AppError as exc:
        state.message = t[FORM_FAILURES.get(type(exc), "server_error")]
        return await _petition_page_async(database, request, slug, state, exc.status)
    state.signed_email = body.email
    return await _petition_page_async(database, request, slug, state, 200)


async def _petition_page_async(
    database: Database, request: Request, slug: str, form: SignForm, status_code: int
) -> HTMLResponse:
    def build() -> HTMLResponse:
        with database.session() as session:
            return _petition_page(request, session, slug, form, status_code=status_code)

    return await run_in_threadpool(build)


# --- who runs it, the share image, and what crawlers and browsers ask for ------------------


@router.get("/about", include_in_schema=False, response_class=HTMLResponse)
def about_page(request: Request) -> HTMLResponse:
    """Who runs the petition, how to reach them, what is done with signers' data, and how
    the petition is delivered (settings ORGANISER_NAME, CONTACT_EMAIL, DELIVERY_PLAN,
    PRIVACY_NOTICE_URL, RETENTION_DAYS)."""
    settings: Settings = request.app.state.settings
    t = strings(choose_language(request).lang)
    return render(
        request,
        "about.html",
        settings=settings,
        title=t["about_title"],
        description=t["about_description"],
    )


@router.get("/petitions/{slug}/share.png", include_in_schema=False)
def share_image_png(request: Request, slug: str, database: DatabaseDep) -> Response:
    """The petition's card image for shared links: title and live count, drawn at most every
    SHARE_IMAGE_SECONDS per process and language."""
    if len(slug) > SLUG_MAX:
        return not_found_page(request)
    lang = choose_language(request).lang
    settings: Settings = request.app.state.settings

    def draw() -> share.ShareImage:
        # An unknown slug raises NotFound here, so only petitions that exist are cached.
        with database.session() as session:
            petition = petitions.get_petition(session, slug)
        t = strings(lang)
        count = t["count_text_one" if petition.verified_count == 1 else "count_text"]
        return share.ShareImage.of(
            share.draw_share_image(
                petition.title,
                fill(count, verified=format_number(petition.verified_count, lang)),
                fill(t["count_goal"], goal=format_number(petition.goal, lang)),
                t["site_name"],
                petition.progress,
            )
        )

    try:
        image: share.ShareImage = request.app.state.share_image_cache.get(f"{lang}:{slug}", draw)
    except NotFound:
        return not_found_page(request)
    headers = {
        "ETag": image.etag,
        "Cache-Control": f"public, max-age={int(settings.share_image_seconds)}",
    }
    if image.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(image.png, media_type="image/png", headers=headers)


ROBOTS_TXT = """\
User-agent: *
Allow: /
Disallow: /confirm
Disallow: /withdraw
Disallow: /my-signatures
Disallow: /v1/admin
"""


@router.get("/robots.txt", include_in_schema=False)
def robots_txt() -> PlainTextResponse:
    return PlainTextResponse(ROBOTS_TXT, headers={"Cache-Control": ASSET_CACHE_PLAIN})


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "favicon.ico",
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )
