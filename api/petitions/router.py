"""HTTP for petitions and signatures: parse, call the service, shape the response."""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from api import metrics
from api.abuse.deps import HOLD_FOR_REVIEW, rate_limit, request_ip, signing_allowance
from api.caches import COUNTS, STATS
from api.config import Settings
from api.deps import (
    PUBLIC_CACHE,
    AppSettings,
    DatabaseDep,
    ReadSession,
    cache_control,
)
from api.errors import (
    BlockedNetwork,
    Gone,
    NotFound,
    PetitionNotOpen,
    ServiceUnavailable,
    SigningPaused,
    TooManyRequests,
    problem_responses,
)
from api.fields import PetitionSlugPath
from api.groupcommit import GroupCommit, GroupCommitter
from api.idempotency import tie_to_signer
from api.mail.service import RecipientLimit
from api.openapi import operation_id
from api.pagination import Page, PageParams, page_of, page_params
from api.petitions import catalog, confirmation, selfservice, signing
from api.petitions import stats as petition_stats
from api.petitions.models import Language
from api.petitions.schemas import (
    AccessRequest,
    AccessRequested,
    ConfirmResult,
    CountPublic,
    MySignatures,
    MyWithdrawal,
    PetitionPublic,
    PetitionStats,
    RecentSignature,
    SignatureAccepted,
    SignatureCreate,
    TokenBody,
    WithdrawResult,
)
from api.request_body import json_body, json_body_openapi
from api.routing import ApiRoute
from api.web.i18n import language_from_accept

router = APIRouter(prefix="/v1", route_class=ApiRoute, generate_unique_id_function=operation_id)

Paging = Annotated[PageParams, Depends(page_params)]
NO_STORE_VALUE = "no-store"
NO_STORE = cache_control(NO_STORE_VALUE)

# What the operations below can raise, with details as the service words them.
NO_SUCH_PETITION = NotFound("No petition with slug 'no-such-petition'.")
UNKNOWN_LINK = NotFound("This link is not known. Check that it was copied whole.")


LangQuery = Annotated[
    Language | None,
    Query(
        description="The language of the petition's text; without it, `Accept-Language` "
        "decides. A petition without that text answers in English (see `language`)."
    ),
]


def text_language(request: Request, lang: Language | None) -> str:
    return lang or language_from_accept(request.headers.get("accept-language"))


def _say_language(response: Response, petition: PetitionPublic, explicit: bool) -> None:
    response.headers["Content-Language"] = petition.language
    if not explicit:
        response.headers["Vary"] = "Accept-Language"


def signing_context(request: Request, settings: Settings) -> signing.SigningContext:
    return signing.SigningContext(
        secret=settings.secret(),
        public_base_url=settings.public_base_url,
        client_ip=request_ip(request),
        hold_for_review=getattr(request.state, HOLD_FOR_REVIEW, False),
        recipient_limit=recipient_limit(settings.mail_recipient_limit),
    )


@functools.cache
def recipient_limit(text: str) -> RecipientLimit:
    return RecipientLimit.parse(text)


@router.get(
    "/petitions",
    tags=["petitions"],
    summary="List petitions",
    description="Open and closed petitions (drafts are not public), each with its verified count.",
    response_model=Page[PetitionPublic],
    dependencies=[PUBLIC_CACHE],
)
def list_petitions(
    request: Request,
    response: Response,
    session: ReadSession,
    paging: Paging,
    lang: LangQuery = None,
) -> Page[PetitionPublic]:
    items, cursor = catalog.list_petitions(session, paging, text_language(request, lang))
    if lang is None:
        response.headers["Vary"] = "Accept-Language"
    return page_of(request, items, cursor)


@router.get(
    "/petitions/{slug}",
    tags=["petitions"],
    summary="One petition",
    description="The petition's text (with the version a signer would sign) in the language "
    "asked for (`?lang=`, else `Accept-Language`) when it has that text, else in English, "
    "with `Content-Language`; its status, goal, milestones, verified count and progress. "
    "The version's hash covers the text in every language.",
    response_model=PetitionPublic,
    responses=problem_responses(NO_SUCH_PETITION),
    dependencies=[cache_control("public, max-age=5, stale-while-revalidate=30")],
)
def read_petition(
    slug: PetitionSlugPath,
    request: Request,
    response: Response,
    session: ReadSession,
    lang: LangQuery = None,
) -> PetitionPublic:
    petition = catalog.get_petition(session, slug, text_language(request, lang))
    _say_language(response, petition, explicit=lang is not None)
    return petition


@router.get(
    "/petitions/{slug}/count",
    tags=["petitions"],
    summary="Verified signature count",
    description="Confirmed signatures, served from a per-process cache refreshed at most once "
    "a second from sharded counters: constant cost whatever the number of signatures, exact "
    "within a few seconds. For a live count without polling, use `/events`.",
    response_model=CountPublic,
    responses=problem_responses(NO_SUCH_PETITION),
    dependencies=[cache_control("public, max-age=2, stale-while-revalidate=10")],
)
def read_count(slug: PetitionSlugPath, request: Request, database: DatabaseDep) -> CountPublic:
    cache = request.app.state.caches.ttl(COUNTS)

    def load() -> CountPublic:
        with database.session() as session:
            return catalog.get_count(session, slug)

    count: CountPublic = cache.get(slug, load)
    return count


@router.get(
    "/petitions/{slug}/stats",
    tags=["petitions"],
    summary="Where and when people signed",
    description="Confirmed signatures by US state, by Florida county, and by day (UTC). "
    "Refreshed at most every 30 seconds.",
    response_model=PetitionStats,
    responses=problem_responses(NO_SUCH_PETITION),
    dependencies=[cache_control("public, max-age=30, stale-while-revalidate=60")],
)
def read_stats(slug: PetitionSlugPath, request: Request, database: DatabaseDep) -> PetitionStats:
    def load() -> PetitionStats:
        with database.session() as session:
            return petition_stats.stats(session, slug)

    stats: PetitionStats = request.app.state.caches.ttl(STATS).get(slug, load)
    return stats


@router.get(
    "/petitions/{slug}/signatures/recent",
    tags=["petitions"],
    summary="Recent public signatures",
    description="Only signers who chose `display_publicly`, newest first: first name, last "
    "initial, county or state, comment and time. Nothing else about anyone is shown.",
    response_model=Page[RecentSignature],
    responses=problem_responses(NO_SUCH_PETITION),
    dependencies=[cache_control("public, max-age=10, stale-while-revalidate=30")],
)
def recent_signatures(
    slug: PetitionSlugPath, request: Request, session: ReadSession, paging: Paging
) -> Page[RecentSignature]:
    items, cursor = petition_stats.recent_signatures(session, slug, paging)
    return page_of(request, items, cursor)


@router.post(
    "/petitions/{slug}/signatures",
    tags=["signatures"],
    summary="Sign a petition",
    description="Takes a signature and emails a confirmation link (valid 7 days); the "
    'signature counts once confirmed. The answer is `202 {"status": '
    '"pending_confirmation"}` whether the email is new, pending or already confirmed, so it '
    'never reveals who signed. A repeat sends a reminder or an "already signed" email, at '
    "most 3 emails per signature. One signature per mailbox per petition: `+tags` at Gmail, "
    "Outlook, iCloud, Fastmail and Proton, `-tags` at Yahoo, Gmail's dots, case and "
    "full-width forms do not make a new address; a local part mixing look-alike scripts is "
    "refused (`invalid_email`). A US `postal_code` must be a ZIP in use. "
    "Fields the API does not know are refused. Per address and petition, every request counts "
    "against `RATE_LIMIT_REQUESTS` (then 429), and only accepted signatures against "
    "`RATE_LIMIT_BURST`/`RATE_LIMIT_SUSTAINED`: past those a signature is still taken and "
    "confirmed by email, but held for staff review before it counts.",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SignatureAccepted,
    responses=problem_responses(
        BlockedNetwork,
        NO_SUCH_PETITION,
        PetitionNotOpen,
        TooManyRequests,
        SigningPaused,
        ServiceUnavailable,
    ),
    openapi_extra=json_body_openapi(SignatureCreate),
)
async def sign(slug: PetitionSlugPath, request: Request) -> Response:
    # The hot path: no dependency is solved (the body is validated once from its bytes, the
    # app's parts are read directly, the allowance is entered here), and the answer is built
    # once (api/request_body.py).
    limits = Response()  # signing_allowance writes its RateLimit headers on it
    async with signing_allowance(request, limits):
        body = await json_body(request, SignatureCreate)
        context = signing_context(request, request.app.state.settings)
        # Group commit (api/groupcommit.py): committed, with its mail, before this answers;
        # the signatures that arrive together are written together.
        committer: GroupCommitter = request.app.state.group_commit
        signed = signing.SignRequest.of(slug, body, context)
        await committer.run_batched(signing.SIGNING, signed)
    tie_to_signer(request, signed.email_hash)
    metrics.SIGNATURES.labels("accepted").inc()
    headers = {name: value for name, value in limits.headers.items() if name != "content-length"}
    return Response(
        SIGNATURE_ACCEPTED,
        status_code=status.HTTP_202_ACCEPTED,
        media_type="application/json",
        headers={**headers, "Cache-Control": NO_STORE_VALUE},
    )


# What the route does in place of dependencies, for its OpenAPI document (api.openapi).
sign.cache_control = NO_STORE_VALUE  # type: ignore[attr-defined]
sign.rate_limited_action = "sign"  # type: ignore[attr-defined]
SIGNATURE_ACCEPTED = SignatureAccepted().model_dump_json().encode()


@router.post(
    "/signatures/confirm",
    tags=["signatures"],
    summary="Confirm a signature",
    description="With the token from the emailed link (`/confirm?token=...`). Confirming twice "
    "is harmless (`already_confirmed`). An expired link is a 410; an unknown one a 404.",
    response_model=ConfirmResult,
    responses=problem_responses(
        UNKNOWN_LINK,
        Gone("This confirmation link has expired. Sign again to get a new one."),
        Gone("This signature was withdrawn or removed; the link no longer works."),
    ),
    openapi_extra=json_body_openapi(TokenBody),
)
async def confirm(request: Request) -> Response:
    # Hot like signing (every signer clicks once): no dependency solved, the answer built once.
    body = await json_body(request, TokenBody)
    committer: GroupCommitter = request.app.state.group_commit
    result = await committer.run_batched(confirmation.CONFIRMING, body.token)
    if result.status == "confirmed":
        metrics.SIGNATURES.labels("confirmed").inc()
    return Response(
        result.model_dump_json(),
        media_type="application/json",
        headers={"Cache-Control": NO_STORE_VALUE},
    )


confirm.cache_control = NO_STORE_VALUE  # type: ignore[attr-defined]  # documented by api.openapi


@router.post(
    "/signatures/withdraw",
    tags=["signatures"],
    summary="Withdraw a signature",
    description="With the token from the emailed withdraw link. Erases the signer's personal "
    "data, keeps an anonymous record, and takes the signature out of every count. Withdrawing "
    "twice answers `already_withdrawn`.",
    response_model=WithdrawResult,
    responses=problem_responses(
        UNKNOWN_LINK,
        Gone("This signature was removed by moderators; there is nothing to withdraw."),
    ),
    dependencies=[NO_STORE],
)
async def withdraw(body: TokenBody, committer: GroupCommit) -> WithdrawResult:
    result = await committer.run(lambda session: confirmation.withdraw(session, body.token))
    return _counted_withdrawal(result)


@router.post(
    "/signatures/access",
    tags=["signatures"],
    summary="Email me a link to my signatures",
    description="Mails a link (`/my-signatures?token=...`, valid 24 hours) through which the "
    "signer sees their own signatures and can withdraw each. The answer, and the time it "
    "takes, are the same whether or not the email is known. One mailbox gets at most "
    "`MAIL_RECIPIENT_LIMIT` mails an hour, whoever asks.",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AccessRequested,
    responses=problem_responses(TooManyRequests),
    dependencies=[NO_STORE, rate_limit("access")],
)
async def request_access(
    body: AccessRequest, request: Request, committer: GroupCommit, settings: AppSettings
) -> AccessRequested:
    context = signing_context(request, settings)
    await committer.run(
        lambda session: selfservice.request_access(session, body.email, body.locale, context)
    )
    tie_to_signer(request, signing.signer_key(context.secret, body.email))
    return AccessRequested()


@router.post(
    "/signatures/mine",
    tags=["signatures"],
    summary="My signatures",
    description="With the token of an access link: the signer's pending and confirmed "
    "signatures. (POST, so the token never sits in a URL or a cache.)",
    response_model=MySignatures,
    responses=problem_responses(UNKNOWN_LINK, Gone("This link has expired. Ask for a new one.")),
    dependencies=[NO_STORE],
)
def my_signatures(body: TokenBody, request: Request, session: ReadSession) -> MySignatures:
    email_hash = selfservice.access_holder(session, body.token)
    tie_to_signer(request, email_hash)
    return selfservice.signatures_of(session, email_hash)


@router.post(
    "/signatures/mine/withdraw",
    tags=["signatures"],
    summary="Withdraw one of my signatures",
    description="With the token of an access link and the petition's slug. Same effect as the "
    "withdraw link in the confirmation email.",
    response_model=WithdrawResult,
    responses=problem_responses(
        UNKNOWN_LINK,
        NotFound("No signature of yours on 'no-such-petition'."),
        Gone("This link has expired. Ask for a new one."),
        Gone("This signature was removed by moderators; there is nothing to withdraw."),
    ),
    dependencies=[NO_STORE],
)
async def withdraw_mine(body: MyWithdrawal, committer: GroupCommit) -> WithdrawResult:
    result = await committer.run(
        lambda session: selfservice.withdraw_mine(session, body.token, body.petition_slug)
    )
    return _counted_withdrawal(result)


def _counted_withdrawal(result: WithdrawResult) -> WithdrawResult:
    if result.status == "withdrawn":
        metrics.SIGNATURES.labels("withdrawn").inc()
    return result
