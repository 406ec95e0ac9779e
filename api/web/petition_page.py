"""The petition page as it is assembled: the case with its numbered fact references, the facts
with their quotes, how each source is named, whether the form is open, the momentum, the recent
signers and the share actions. The routes that answer with it are in api.web.router.

Everything comes from the services that back the JSON API, so the page reads and works without
JavaScript.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from api.caches import STATS
from api.db import Database
from api.errors import NotFound
from api.incident import reads as incident
from api.incident.models import DiscrepancyKind
from api.incident.schemas import CitationPublic, FactPublic, SourcePublic
from api.incident.support import FACT_REFERENCE
from api.pagination import MAX_LIMIT, PageParams
from api.petitions import catalog
from api.petitions import stats as petition_stats
from api.petitions.models import PetitionStatus, signing_state
from api.petitions.schemas import PetitionPublic, known_referral
from api.web import share
from api.web.forms import SignForm, form_token
from api.web.i18n import choose_language, country_names
from api.web.momentum import county_map, next_milestone
from api.web.pages import LINK_PAGE_CACHE, PAGE_CACHE, not_found_page, read_in_thread, render

MAX_FACT_PAGES = 20
RECENT_SIGNERS = 5


# --- the case and its facts -------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A `[fact:id]` in the text, shown as a numbered link to the fact."""

    number: int
    fact_id: str


@dataclass(frozen=True)
class FactItem:
    number: int
    id: str
    statement: str
    status: str
    quotes: list[CitationPublic]
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


def _fact_items(
    session: Session, facts: Mapping[str, FactPublic], cited: list[str]
) -> list[FactItem]:
    """The facts the case cites, numbered as its references are."""
    worded_differently = _worded_differently(session)
    return [
        FactItem(
            number=number,
            id=fact.id,
            statement=fact.statement,
            status=fact.status.value,
            quotes=list(fact.citations),
            source_count=len({c.source_id for c in fact.citations}),
            worded_differently=fact.id in worded_differently,
        )
        for number, fact in enumerate((facts[fact_id] for fact_id in cited), 1)
    ]


# --- which petition, and whether it takes signatures ------------------------------------------


def page_signing_state(petition: PetitionPublic, now: dt.datetime) -> str:
    """`open`, `not_yet_open` or `closed`: whether the form is shown."""
    return signing_state(petition.status, petition.opens_at, petition.closes_at, now).value


def home_slug(session: Session) -> str | None:
    """The open petition (the oldest, if several are open)."""
    listed, _ = catalog.list_petitions(session, PageParams(limit=MAX_LIMIT, cursor=None))
    now = dt.datetime.now(dt.UTC)
    # One taking signatures now, else one about to, else the latest closed one.
    chosen = (
        next((p for p in listed if page_signing_state(p, now) == "open"), None)
        or next((p for p in listed if p.status == PetitionStatus.open), None)
        or (listed[-1] if listed else None)
    )
    return chosen.slug if chosen else None


# --- the page ---------------------------------------------------------------------------------


def render_petition_page(
    request: Request,
    session: Session,
    slug: str,
    form: SignForm | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        # The petition's text in the page's language, when it has that text.
        petition = catalog.get_petition(session, slug, choose_language(request).lang)
    except NotFound:
        return not_found_page(request)
    facts = _all_facts(session)
    paragraphs, cited = case_paragraphs(petition.body, facts)
    fact_items = _fact_items(session, facts, cited)
    state = page_signing_state(petition, dt.datetime.now(dt.UTC))
    lang = choose_language(request).lang
    settings = request.app.state.settings
    milestone = next_milestone(petition.verified_count, petition.goal, petition.milestones)
    # The same numbers as /v1/petitions/{slug}/stats, from the same per-process cache.
    stats = request.app.state.caches.ttl(STATS).get(
        petition.slug, lambda: petition_stats.stats(session, petition.slug)
    )
    recent, _ = petition_stats.recent_signatures(
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


async def render_petition_page_after_form(
    database: Database, request: Request, slug: str, form: SignForm, status_code: int
) -> HTMLResponse:
    """The page answering a form post, read in a session of its own."""
    return await read_in_thread(
        database,
        lambda session: render_petition_page(request, session, slug, form, status_code=status_code),
    )
