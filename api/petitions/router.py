"""HTTP for petitions and signatures: parse, call the service, shape the response."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status

from api import metrics
from api.abuse.deps import rate_limit, request_ip
from api.config import Settings
from api.deps import (
    PUBLIC_CACHE,
    AppSettings,
    DatabaseDep,
    ReadSession,
    cache_control,
)
from api.errors import problem_responses
from api.groupcommit import GroupCommit
from api.pagination import Page, PageParams, page_of, page_params
from api.petitions import service
from api.petitions.models import (
    SLUG_MAX,
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

router = APIRouter(prefix="/v1")

SlugPath = Annotated[
    str,
    Path(
        max_length=SLUG_MAX,
        description="The petition's slug.",
        examples=["florida-minimum-arrest-age-12"],
    ),
]
Paging = Annotated[PageParams, Depends(page_params)]
NO_STORE = cache_control("no-store")


def signing_context(request: Request, settings: Settings) -> service.SigningContext:
    return service.SigningContext(
        secret=settings.secret(),
        public_base_url=settings.public_base_url,
        client_ip=request_ip(request),
    )


@router.get(
    "/petitions",
    tags=["petitions"],
    summary="List petitions",
    description="Open and closed petitions (drafts are not public), each with its verified count.",
    response_model=Page[PetitionPublic],
    responses=problem_responses(422),
    dependencies=[PUBLIC_CACHE],
)
def list_petitions(request: Request, session: ReadSession, paging: Paging) -> Page[PetitionPublic]:
    items, cursor = service.list_petitions(session, paging)
    return page_of(request, items, cursor)


@router.get(
    "/petitions/{slug}",
    tags=["petitions"],
    summary="One petition",
    description="The petition's text (with the version a signer would sign), status, goal, "
    "milestones, and its verified count and progress.",
    response_model=PetitionPublic,
    responses=problem_responses(404, 422),
    dependencies=[cache_control("public, max-age=5, stale-while-revalidate=30")],
)
def read_petition(slug: SlugPath, session: ReadSession) -> PetitionPublic:
    return service.get_petition(session, slug)


@router.get(
    "/petitions/{slug}/count",
    tags=["petitions"],
    summary="Verified signature count",
    description="Confirmed signatures, served from a per-process cache refreshed at most once "
    "a second from sharded counters: constant cost whatever the number of signatures, exact "
    "within a few seconds. For a live count without polling, use `/events`.",
    response_model=CountPublic,
    responses=problem_responses(404, 422),
    dependencies=[cache_control("public, max-age=2, stale-while-revalidate=10")],
)
def read_count(slug: SlugPath, request: Request, database: DatabaseDep) -> CountPublic:
    cache = request.app.state.count_cache

    def load() -> CountPublic:
        with database.session() as session:
            return service.get_count(session, slug)

    count: CountPublic = cache.get(slug, load)
    return count


@router.get(
    "/petitions/{slug}/stats",
    tags=["petitions"],
    summary="Where and when people signed",
    description="Confirmed signatures by US state, by Florida county, and by day (UTC). "
    "Refreshed at most every 30 seconds.",
    response_model=PetitionStats,
    responses=problem_responses(404, 422),
    dependencies=[cache_control("public, max-age=30, stale-while-revalidate=60")],
)
def read_stats(slug: SlugPath, request: Request, database: DatabaseDep) -> PetitionStats:
    def load() -> PetitionStats:
        with database.session() as session:
            return service.stats(session, slug)

    stats: PetitionStats = request.app.state.stats_cache.get(slug, load)
    return stats


@router.get(
    "/petitions/{slug}/signatures/recent",
    tags=["petitions"],
    summary="Recent public signatures",
    description="Only signers who chose `display_publicly`, newest first: first name, last "
    "initial, county or state, comment and time. Nothing else about anyone is shown.",
    response_model=Page[RecentSignature],
    responses=problem_responses(404, 422),
    dependencies=[cache_control("public, max-age=10, stale-while-revalidate=30")],
)
def recent_signatures(
    slug: SlugPath, request: Request, session: ReadSession, paging: Paging
) -> Page[RecentSignature]:
    items, cursor = service.recent_signatures(session, slug, paging)
    return page_of(request, items, cursor)


@router.post(
    "/petitions/{slug}/signatures",
    tags=["signatures"],
    summary="Sign a petition",
    description="Takes a signature and emails a confirmation link (valid 7 days); the "
    'signature counts once confirmed. The answer is `202 {"status": '
    '"pending_confirmation"}` whether the email is new, pending or already confirmed, so it '
    'never reveals who signed. A repeat sends a reminder or an "already signed" email, at '
    "most 3 emails per signature. One signature per email per petition (for Gmail, dots and "
    "`+tags` do not make a new address). A US `postal_code` must be a ZIP in use. "
    "Fields the API does not know are refused.",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SignatureAccepted,
    responses=problem_responses(403, 404, 409, 413, 422, 429, 503),
    dependencies=[NO_STORE, rate_limit("sign")],
)
async def sign(
    slug: SlugPath,
    body: SignatureCreate,
    request: Request,
    committer: GroupCommit,
    settings: AppSettings,
) -> SignatureAccepted:
    # Group commit (api/groupcommit.py): committed, with its mail, before this answers.
    context = signing_context(request, settings)
    await committer.run(lambda session: service.sign(session, slug, body, context))
    metrics.SIGNATURES.labels("accepted").inc()
    return SignatureAccepted()


@router.post(
    "/signatures/confirm",
    tags=["signatures"],
    summary="Confirm a signature",
    description="With the token from the emailed link (`/confirm?token=...`). Confirming twice "
    "is harmless (`already_confirmed`). An expired link is a 410; an unknown one a 404.",
    response_model=ConfirmResult,
    responses=problem_responses(404, 410, 422),
    dependencies=[NO_STORE],
)
async def confirm(body: TokenBody, committer: GroupCommit) -> ConfirmResult:
    result = await committer.run(lambda session: service.confirm(session, body.token))
    if result.status == "confirmed":
        metrics.SIGNATURES.labels("confirmed").inc()
    return result


@router.post(
    "/signatures/withdraw",
    tags=["signatures"],
    summary="Withdraw a signature",
    description="With the token from the emailed withdraw link. Erases the signer's personal "
    "data, keeps an anonymous record, and takes the signature out of every count. Withdrawing "
    "twice answers `already_withdrawn`.",
    response_model=WithdrawResult,
    responses=problem_responses(404, 410, 422),
    dependencies=[NO_STORE],
)
async def withdraw(body: TokenBody, committer: GroupCommit) -> WithdrawResult:
    result = await committer.run(lambda session: service.withdraw(session, body.token))
    return _counted_withdrawal(result)


@router.post(
    "/signatures/access",
    tags=["signatures"],
    summary="Email me a link to my signatures",
    description="Mails a link (`/my-signatures?token=...`, valid 24 hours) through which the "
    "signer sees their own signatures and can withdraw each. The answer is the same whether "
    "or not the email is known.",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AccessRequested,
    responses=problem_responses(413, 422, 429),
    dependencies=[NO_STORE, rate_limit("access")],
)
async def request_access(
    body: AccessRequest, request: Request, committer: GroupCommit, settings: AppSettings
) -> AccessRequested:
    context = signing_context(request, settings)
    await committer.run(
        lambda session: service.request_access(session, body.email, body.locale, context)
    )
    return AccessRequested()


@router.post(
    "/signatures/mine",
    tags=["signatures"],
    summary="My signatures",
    description="With the token of an access link: the signer's pending and confirmed "
    "signatures. (POST, so the token never sits in a URL or a cache.)",
    response_model=MySignatures,
    responses=problem_responses(404, 410, 422),
    dependencies=[NO_STORE],
)
def my_signatures(body: TokenBody, session: ReadSession) -> MySignatures:
    return service.my_signatures(session, body.token)


@router.post(
    "/signatures/mine/withdraw",
    tags=["signatures"],
    summary="Withdraw one of my signatures",
    description="With the token of an access link and the petition's slug. Same effect as the "
    "withdraw link in the confirmation email.",
    response_model=WithdrawResult,
    responses=problem_responses(404, 410, 422),
    dependencies=[NO_STORE],
)
async def withdraw_mine(body: MyWithdrawal, committer: GroupCommit) -> WithdrawResult:
    result = await committer.run(
        lambda session: service.withdraw_mine(session, body.token, body.petition_slug)
    )
    return _counted_withdrawal(result)


def _counted_withdrawal(result: WithdrawResult) -> WithdrawResult:
    if result.status == "withdrawn":
        metrics.SIGNATURES.labels("withdrawn").inc()
    return result
