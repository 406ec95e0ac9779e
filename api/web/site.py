"""What the site answers besides petitions and emailed links: the about page (who runs it), and
what browsers and crawlers ask of any site (favicon, robots.txt)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse

from api.config import Settings
from api.web.i18n import choose_language, strings
from api.web.pages import ASSET_CACHE_PLAIN, STATIC_DIR, render

router = APIRouter()

ROBOTS_TXT = """\
User-agent: *
Allow: /
Disallow: /confirm
Disallow: /withdraw
Disallow: /my-signatures
Disallow: /v1/admin
"""


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
