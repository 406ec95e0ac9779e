"""HTML for signers: the web router, and its routes under /petitions/{slug}: the petition page
(also at `/`), its no-script signing form and its share image. The page is assembled in
api.web.petition_page; the pages behind emailed links are api.web.links, the about page,
favicon and robots.txt api.web.site, the live count api.web.events.

Pages are rendered on the server from the same services that back the JSON API (the text, the
facts with their quotes, the count at load time, the momentum), so they read and work without
JavaScript: the form posts to `/petitions/{slug}/sign`. The script in static/js makes it nicer,
through the public API only, as any other frontend would: it signs
(`POST /v1/petitions/{slug}/signatures`) without leaving the page and keeps the count live
(`/v1/petitions/{slug}/events`, falling back to polling `/count`).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from api.abuse.deps import signing_allowance
from api.caches import SHARE_IMAGES
from api.config import Settings
from api.deps import DatabaseDep, ReadSession
from api.errors import AppError, NotFound
from api.groupcommit import GroupCommit
from api.petitions import catalog, signing
from api.petitions.router import signing_context
from api.routing import add_routes
from api.web import events, links, site
from api.web.forms import read_sign_form
from api.web.i18n import choose_language
from api.web.pages import STATIC_DIR, StaticAssets, impossible_slug_page, not_found_page
from api.web.petition_page import home_slug, render_petition_page, render_petition_page_after_form
from api.web.share import ShareImage, petition_share_image, share_image_response

__all__ = ["add_web_routes"]


router = APIRouter()


def add_web_routes(app: FastAPI) -> None:
    """The static assets, then the live count, the emailed links' pages, the site's pages and
    this module's pages, in the app's own list (api.routing.add_routes says why)."""
    app.mount("/static", StaticAssets(directory=STATIC_DIR), name="static")
    for pages in (events.router, links.router, site.router, router):
        add_routes(app, pages)


@router.get("/", include_in_schema=False, response_class=HTMLResponse)
def home_page(request: Request, session: ReadSession) -> HTMLResponse:
    slug = home_slug(session)
    if slug is None:
        return not_found_page(request)
    return render_petition_page(request, session, slug)


@router.get("/petitions/{slug}", include_in_schema=False, response_class=HTMLResponse)
def petition_page(request: Request, session: ReadSession, slug: str) -> HTMLResponse:
    if (page := impossible_slug_page(request, slug)) is not None:
        return page
    return render_petition_page(request, session, slug)


@router.post("/petitions/{slug}/sign", include_in_schema=False, response_class=HTMLResponse)
async def sign_form(
    request: Request, slug: str, committer: GroupCommit, database: DatabaseDep
) -> HTMLResponse:
    """The signing form without JavaScript: the JSON API's validation, rate limit and service,
    answered with the page (errors next to the fields, or the thank-you state)."""
    if (page := impossible_slug_page(request, slug)) is not None:
        return page
    settings: Settings = request.app.state.settings
    lang = choose_language(request).lang
    form, body, status_code = await read_sign_form(request, slug, settings, lang)
    if body is not None:
        try:
            async with signing_allowance(request, Response()):
                context = signing_context(request, settings)
                signed = signing.SignRequest.of(slug, body, context)
                await committer.run_batched(signing.SIGNING, signed)
        except NotFound:
            return not_found_page(request)
        except AppError as exc:
            form.refused(exc, lang)
            status_code = exc.status
        else:
            form.signed_email = body.email
    return await render_petition_page_after_form(database, request, slug, form, status_code)


@router.get("/petitions/{slug}/share.png", include_in_schema=False)
def share_image_png(request: Request, slug: str, database: DatabaseDep) -> Response:
    """The petition's card image for shared links: title and live count, drawn at most every
    SHARE_IMAGE_SECONDS per process and language."""
    if (page := impossible_slug_page(request, slug)) is not None:
        return page
    lang = choose_language(request).lang
    settings: Settings = request.app.state.settings

    def draw() -> ShareImage:
        # An unknown slug raises NotFound here, so only petitions that exist are cached.
        with database.session() as session:
            petition = catalog.get_petition(session, slug)
        return petition_share_image(petition, lang)

    try:
        cache = request.app.state.caches.ttl(SHARE_IMAGES)
        image: ShareImage = cache.get(f"{lang}:{slug}", draw)
    except NotFound:
        return not_found_page(request)
    return share_image_response(request, image, settings.share_image_seconds)
