"""The pages behind emailed links: confirm, withdraw, and a signer's own signatures.

Opening a link changes nothing (mail scanners open links): each page shows a button, a form
POST with the token in its body, which works without JavaScript. The confirm page's script
presses its button as the page opens. The answers are rendered on the server, and never
stored by a cache (their URLs may carry a token).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlmodel import Session
from starlette.responses import Response

from api.abuse.deps import rate_limit
from api.config import Settings
from api.db import Database
from api.deps import AppSettings, DatabaseDep
from api.errors import AppError, Gone, NotFound, TooManyRequests
from api.groupcommit import GroupCommit
from api.petitions import catalog, confirmation, selfservice
from api.petitions.models import SLUG_MAX
from api.petitions.router import signing_context
from api.petitions.schemas import AccessRequest, MySignatures, PetitionPublic
from api.web.forms import from_this_site, read_form
from api.web.i18n import choose_language, fill, format_long_date, strings
from api.web.pages import LINK_PAGE_CACHE, TOKEN_MAX, read_in_thread, render
from api.web.share import share_context

router = APIRouter()
access_limit_check = rate_limit("access").dependency

# The tokens the service issues are longer than this; a shorter posted token is refused unread.
POSTED_TOKEN_MIN = 16


def _link_token(request: Request) -> str:
    """The emailed link's `?token=`, or "" when it is missing or longer than any token."""
    token = request.query_params.get("token", "")
    return token if len(token) <= TOKEN_MAX else ""


def _posted_token(form: dict[str, str]) -> str:
    """The token a page's form posted back, or "" when it cannot be one."""
    token = form.get("token", "")
    return token if POSTED_TOKEN_MIN <= len(token) <= TOKEN_MAX else ""


# --- the emailed links: confirm and withdraw --------------------------------------------------


def _token_page(
    request: Request,
    action: str,
    *,
    token: str = "",
    outcome: str | None = None,
    petition: PetitionPublic | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The confirm or withdraw page: the button that posts the link's token, or once posted
    the outcome (with the petition's share actions when it is confirmed)."""
    lang = choose_language(request).lang
    t = strings(lang)
    answered = {"outcome_text": t[outcome]} if outcome else {}
    sharing = share_context(request, petition, lang) if petition else {}
    return render(
        request,
        "token.html",
        status_code=status_code,
        cache=LINK_PAGE_CACHE,
        action=action,
        has_token=bool(token),
        token=token,
        outcome=outcome,
        petition=petition,
        page_data={"action": action, "hasToken": bool(token)},
        canonical_path=f"/{action}",
        title=t[f"{action}_title"],
        **answered,
        **sharing,
    )


@router.get("/confirm", include_in_schema=False, response_class=HTMLResponse)
def confirm_page(request: Request) -> HTMLResponse:
    """The emailed confirmation link: a button that confirms (a form POST), which the page's
    script presses as the page opens. Opening the link alone changes nothing."""
    return _token_page(request, "confirm", token=_link_token(request))


@router.get("/withdraw", include_in_schema=False, response_class=HTMLResponse)
def withdraw_page(request: Request) -> HTMLResponse:
    """The emailed withdrawal link. Withdrawing takes a click: mail scanners open links."""
    return _token_page(request, "withdraw", token=_link_token(request))


# What a failed confirm or withdraw says, by the service's error.
LINK_FAILURES: dict[type[AppError], str] = {NotFound: "link_unknown", Gone: "link_expired"}


async def _token_action(
    request: Request, action: str, committer: GroupCommit, database: Database
) -> HTMLResponse:
    lang = choose_language(request).lang
    settings: Settings = request.app.state.settings
    form = await read_form(request)
    token = _posted_token(form)
    outcome: str
    status_code = 200
    petition: PetitionPublic | None = None
    if not from_this_site(request, settings.public_base_url):
        outcome, status_code = "form_expired", 403
    elif not token:
        outcome, status_code = "link_unknown", 404
    else:
        run = confirmation.confirm if action == "confirm" else confirmation.withdraw
        try:
            result = await committer.run(lambda session: run(session, token))
        except AppError as exc:
            outcome, status_code = LINK_FAILURES.get(type(exc), "server_error"), exc.status
            if action == "confirm" and isinstance(exc, Gone):
                outcome = "confirm_expired"
        else:
            outcome = LINK_OUTCOMES[result.status]
            if result.status in ("confirmed", "already_confirmed"):
                # In the page's language: a Spanish page names the petition in Spanish.
                petition = await read_in_thread(
                    database,
                    lambda session: catalog.get_petition(session, result.petition_slug, lang),
                )
    return _token_page(request, action, outcome=outcome, petition=petition, status_code=status_code)


LINK_OUTCOMES = {
    "confirmed": "confirm_done",
    "already_confirmed": "confirm_already",
    "held_for_review": "confirm_held",
    "withdrawn": "withdraw_done",
    "already_withdrawn": "withdraw_already",
}


@router.post("/confirm", include_in_schema=False, response_class=HTMLResponse)
async def confirm_form(
    request: Request, committer: GroupCommit, database: DatabaseDep
) -> HTMLResponse:
    """Confirms with the token in the form (not the URL): the thank-you state, with the
    petition, its count and the share actions."""
    return await _token_action(request, "confirm", committer, database)


@router.post("/withdraw", include_in_schema=False, response_class=HTMLResponse)
async def withdraw_form(
    request: Request, committer: GroupCommit, database: DatabaseDep
) -> HTMLResponse:
    return await _token_action(request, "withdraw", committer, database)


def _mine_page(request: Request, **context: Any) -> HTMLResponse:
    defaults: dict[str, Any] = {
        "has_token": False,
        "bad_link": False,
        "token": "",
        "listing": None,
        "listing_message": None,
        "listing_error": False,
        "asking": None,
        "access_sent": False,
        "access_message": None,
        "email_value": "",
        "email_error": None,
    }
    has_token = bool(context.get("has_token"))
    return render(
        request,
        "my_signatures.html",
        cache=LINK_PAGE_CACHE,
        page_data={
            "hasToken": has_token,
            "accessUrl": "/v1/signatures/access",
            "mineUrl": "/v1/signatures/mine",
            "withdrawUrl": "/v1/signatures/mine/withdraw",
        },
        canonical_path="/my-signatures",
        title=strings(choose_language(request).lang)["mine_request_title"],
        **(defaults | context),
    )


@router.get("/my-signatures", include_in_schema=False, response_class=HTMLResponse)
def my_signatures_page(request: Request) -> HTMLResponse:
    """A signer's own signatures.

    With the token of the emailed access link, the page's script lists them through the API
    (the token travels only in POST bodies) and withdraws one after a confirm step; without
    the script, a button posts the token to /my-signatures/list. Opening the link changes
    nothing. Without a token the page asks for the email address to send such a link to.
    """
    token = _link_token(request)
    return _mine_page(
        request,
        has_token=bool(token),
        token=token,
        bad_link=len(request.query_params.get("token", "")) > TOKEN_MAX,
    )


@router.post("/my-signatures", include_in_schema=False, response_class=HTMLResponse)
async def request_access_form(
    request: Request, committer: GroupCommit, settings: AppSettings
) -> HTMLResponse:
    """Asks for the emailed link without the script: the API's rules and rate limit, and the
    same answer whether or not the address signed."""
    lang = choose_language(request).lang
    t = strings(lang)
    form = await read_form(request)
    email = form.get("email", "").strip()[:320]
    if not from_this_site(request, settings.public_base_url):
        return _mine_page(
            request, status_code=403, email_value=email, access_message=t["form_expired"]
        )
    if not email:
        return _mine_page(request, status_code=422, email_error=t["err_email_missing"])
    try:
        body = AccessRequest(email=email, locale=lang)
    except ValidationError:
        return _mine_page(
            request, status_code=422, email_value=email, email_error=t["err_email_invalid"]
        )
    try:
        await access_limit_check(request, Response())
        context = signing_context(request, settings)
        await committer.run(
            lambda session: selfservice.request_access(session, body.email, body.locale, context)
        )
    except AppError as exc:
        message = "rate_limited" if isinstance(exc, TooManyRequests) else "server_error"
        return _mine_page(
            request, status_code=exc.status, email_value=email, access_message=t[message]
        )
    return _mine_page(request, access_sent=True, email_value=body.email)


async def _listing(
    request: Request, database: Database, token: str, **context: Any
) -> HTMLResponse:
    """The signer's signatures, rendered on the server (the no-script way)."""
    lang = choose_language(request).lang
    t = strings(lang)

    def load(session: Session) -> MySignatures:
        return selfservice.signatures_of(session, selfservice.access_holder(session, token))

    try:
        mine = await read_in_thread(database, load)
    except AppError as exc:
        message = "mine_link_expired" if isinstance(exc, Gone) else "link_unknown"
        return _mine_page(
            request,
            status_code=exc.status,
            listing=[],
            listing_message=t[message],
            listing_error=True,
        )
    listing = [
        {
            "petition_slug": item.petition_slug,
            "petition_title": item.petition_title,
            "status": item.status,
            "signed_on": format_long_date(item.signed_at, lang),
        }
        for item in mine.signatures
    ]
    default_message = (
        t["mine_loaded_none"]
        if not listing
        else fill(t["mine_loaded_one" if len(listing) == 1 else "mine_loaded"], n=len(listing))
    )
    context.setdefault("listing_message", default_message)
    return _mine_page(request, token=token, listing=listing, **context)


@router.post("/my-signatures/list", include_in_schema=False, response_class=HTMLResponse)
async def list_mine_form(
    request: Request, database: DatabaseDep, settings: AppSettings
) -> HTMLResponse:
    form = await read_form(request)
    if not from_this_site(request, settings.public_base_url):
        return _mine_page(request, status_code=403)
    return await _listing(request, database, _posted_token(form))


@router.post("/my-signatures/withdraw", include_in_schema=False, response_class=HTMLResponse)
async def withdraw_mine_form(
    request: Request, committer: GroupCommit, database: DatabaseDep, settings: AppSettings
) -> HTMLResponse:
    """First asks (the form without `confirm=yes`), then withdraws, then lists again."""
    t = strings(choose_language(request).lang)
    form = await read_form(request)
    if not from_this_site(request, settings.public_base_url):
        return _mine_page(request, status_code=403)
    token = _posted_token(form)
    slug = form.get("petition_slug", "")[:SLUG_MAX]
    if form.get("confirm") != "yes":
        return await _listing(request, database, token, asking=slug)
    try:
        result = await committer.run(
            lambda session: selfservice.withdraw_mine(session, token, slug)
        )
    except AppError:
        return await _listing(request, database, token, listing_message=t["mine_withdraw_failed"])

    title = await read_in_thread(
        database, lambda session: catalog.get_petition(session, result.petition_slug).title
    )
    key = "mine_withdrawn" if result.status == "withdrawn" else "mine_already"
    return await _listing(request, database, token, listing_message=fill(t[key], title=title))
