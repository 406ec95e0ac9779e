"""The pages behind emailed links: confirm, withdraw, and a signer's own signatures.

Opening a link changes nothing (mail scanners open links): each page shows a button, a form
POST with the token in its body, which works without JavaScript. The confirm page's script
presses its button as the page opens. The answers are rendered on the server, and never
stored by a cache (their URLs may carry a token).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.config import Settings
from api.db import Database
from api.deps import DatabaseDep
from api.errors import AppError, Gone, NotFound
from api.groupcommit import GroupCommit
from api.petitions import service as petitions
from api.petitions.models import PetitionPublic
from api.web.forms import from_this_site, read_form
from api.web.i18n import choose_language, strings
from api.web.pages import LINK_PAGE_CACHE, TOKEN_MAX, render
from api.web.share import share_context

router = APIRouter()

# --- the emailed links: confirm and withdraw --------------------------------------------------


def _token_page(request: Request, action: str) -> HTMLResponse:
    token = request.query_params.get("token", "")
    has_token = 0 < len(token) <= TOKEN_MAX
    return render(
        request,
        "token.html",
        action=action,
        has_token=has_token,
        token=token if has_token else "",
        outcome=None,
        petition=None,
        cache=LINK_PAGE_CACHE,
        page_data={"action": action, "hasToken": has_token},
        canonical_path=f"/{action}",
        title=strings(choose_language(request).lang)[f"{action}_title"],
    )


@router.get("/confirm", include_in_schema=False, response_class=HTMLResponse)
def confirm_page(request: Request) -> HTMLResponse:
    """The emailed confirmation link: a button that confirms (a form POST), which the page's
    script presses as the page opens. Opening the link alone changes nothing."""
    return _token_page(request, "confirm")


@router.get("/withdraw", include_in_schema=False, response_class=HTMLResponse)
def withdraw_page(request: Request) -> HTMLResponse:
    """The emailed withdrawal link. Withdrawing takes a click: mail scanners open links."""
    return _token_page(request, "withdraw")


# What a failed confirm or withdraw says, by the service's error.
LINK_FAILURES: dict[type[AppError], str] = {NotFound: "link_unknown", Gone: "link_expired"}


async def _token_action(
    request: Request, action: str, committer: GroupCommit, database: Database
) -> HTMLResponse:
    lang = choose_language(request).lang
    t = strings(lang)
    settings: Settings = request.app.state.settings
    form = await read_form(request)
    token = form.get("token", "")
    outcome: str
    status_code = 200
    petition: PetitionPublic | None = None
    if not from_this_site(request, settings.public_base_url):
        outcome, status_code = "form_expired", 403
    elif not 16 <= len(token) <= TOKEN_MAX:
        outcome, status_code = "link_unknown", 404
    else:
        run = petitions.confirm if action == "confirm" else petitions.withdraw
        try:
            result = await committer.run(lambda session: run(session, token))
        except AppError as exc:
            outcome, status_code = LINK_FAILURES.get(type(exc), "server_error"), exc.status
            if action == "confirm" and isinstance(exc, Gone):
                outcome = "confirm_expired"
        else:
            outcome = LINK_OUTCOMES[result.status]
            if result.status in ("confirmed", "already_confirmed"):

                def load() -> PetitionPublic:
                    with database.session() as session:
                        return petitions.get_petition(session, result.petition_slug)

                petition = await run_in_threadpool(load)
    sharing = share_context(request, petition, lang) if petition else {}
    return render(
        request,
        "token.html",
        status_code=status_code,
        cache=LINK_PAGE_CACHE,
        action=action,
        has_token=False,
        token="",
        outcome=outcome,
        outcome_text=t[outcome],
        petition=petition,
        page_data={"action": action, "hasToken": False},
        canonical_path=f"/{action}",
        title=t[f"{action}_title"],
        **sharing,
    )


LINK_OUTCOMES = {
    "confirmed": "confirm_done",
    "already_confirmed": "confirm_already",
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
        canonical_path="/my-signatures",
        title=strings(choose_language(request).lang)["mine_request_title"],
    )
