"""Admin: search, strike and export signatures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from api import metrics
from api.admin import export, signatures
from api.admin.auth import Actor, require
from api.admin.models import Scope
from api.admin.routers.common import ID_MAX, Paging, admin_router, problems
from api.admin.signature_schemas import (
    ExportFormat,
    ReleaseByFilterRequest,
    ReleaseRequest,
    ReleaseResult,
    SignatureAdmin,
    SignatureQuery,
    StrikeByFilterRequest,
    StrikeRequest,
    StrikeResult,
)
from api.db import utcnow
from api.deps import AppSettings, DatabaseDep, ReadSession, WriteSession
from api.errors import Conflict, NotFound
from api.fields import PetitionSlugPath
from api.pagination import Page, page_of
from api.petitions.models import SignatureStatus
from api.petitions.schemas import ReferralCount
from api.petitions.stats import referral_counts

router = admin_router()

Reader = Annotated[Actor, require(Scope.signatures_read)]
Moderator = Annotated[Actor, require(Scope.signatures_moderate)]
SignatureId = Annotated[int, Path(ge=1, le=ID_MAX, examples=[42])]
EMAIL_RULE = (
    " Emails appear in full only for keys with `signatures:export`; otherwise masked "
    "(`a***@example.org`)."
)


@dataclass
class SignatureSearch:
    """What the search and the held list both take: the criteria, the page, and the request."""

    request: Request
    session: ReadSession
    settings: AppSettings
    query: Annotated[SignatureQuery, Query()]
    paging: Paging

    def page(self, actor: Actor, query: SignatureQuery) -> Page[SignatureAdmin]:
        secret = self.settings.secret()
        items, cursor = signatures.search_signatures(
            self.session, actor, secret, query, self.paging
        )
        return page_of(self.request, items, cursor)


Search = Annotated[SignatureSearch, Depends()]


@router.get(
    "/signatures",
    summary="List and search signatures",
    description="Signatures of every status, newest first, filtered by petition, status, "
    "time signed, email (matched through its keyed hash, so the canonical address matches: "
    "for Gmail, dots and `+tags` do not matter), email domain, IP hash or postal code. "
    "Filters combine with AND." + EMAIL_RULE + " Scope: `signatures:read`.",
    response_model=Page[SignatureAdmin],
    responses=problems(NotFound),
)
def list_signatures(actor: Reader, search: Search) -> Page[SignatureAdmin]:
    return search.page(actor, search.query)


@router.get(
    "/signatures/held",
    summary="Signatures held for review",
    description="Signatures taken while their address was past its allowance of accepted "
    "signatures (`RATE_LIMIT_BURST`/`RATE_LIMIT_SUSTAINED`), newest first, with the same "
    "filters as the search (`status` is always `held`). A held signature with `confirmed_at` "
    "was confirmed by its signer. Release or strike them." + EMAIL_RULE + " Scope: "
    "`signatures:moderate`.",
    response_model=Page[SignatureAdmin],
    responses=problems(NotFound),
)
def list_held(actor: Moderator, search: Search) -> Page[SignatureAdmin]:
    return search.page(actor, search.query.model_copy(update={"status": SignatureStatus.held}))


@router.post(
    "/signatures/release",
    summary="Release every held signature matching a filter",
    description="Held signatures matching `filter` (the search's criteria; at least one "
    "besides `status`) are released: those their signers confirmed count at once, the others "
    "once confirmed. Use `dry_run` first. Audited with the reason and the ids released. "
    "Scope: `signatures:moderate`.",
    response_model=ReleaseResult,
    responses=problems(NotFound),
)
def release_by_filter(
    actor: Moderator, body: ReleaseByFilterRequest, session: WriteSession, settings: AppSettings
) -> ReleaseResult:
    return signatures.release_by_filter(session, actor, settings.secret(), body)


@router.get(
    "/petitions/{slug}/referrals",
    summary="Confirmed signers by share channel",
    description="How many confirmed signers came by each kind of shared link (the `ref` on "
    "the link: `whatsapp`, `facebook`, `x`, `email`, `copy`, `share`, `qr`; `null` for none "
    "or an unknown one). Totals only: which signer came how is never shown. "
    "Scope: `signatures:read`.",
    response_model=list[ReferralCount],
    responses=problems(NotFound),
)
def referrals(actor: Reader, slug: PetitionSlugPath, session: ReadSession) -> list[ReferralCount]:
    return referral_counts(session, slug)


@router.post(
    "/signatures/strike",
    summary="Strike every signature matching a filter",
    description="Strikes every pending or confirmed signature matching `filter` (the same "
    "criteria as the search; at least one besides `status`), with one reason. Use `dry_run` "
    "first to see how many it would take. Struck signatures leave every count. The audit "
    "log keeps the reason, the ids struck and which criteria were used (not their values when "
    "they identify a person). Scope: `signatures:moderate`.",
    response_model=StrikeResult,
    responses=problems(NotFound),
)
def strike_by_filter(
    actor: Moderator, body: StrikeByFilterRequest, session: WriteSession, settings: AppSettings
) -> StrikeResult:
    result = signatures.strike_by_filter(session, actor, settings.secret(), body)
    if not result.dry_run:
        metrics.SIGNATURES.labels("struck").inc(result.struck)
    return result


@router.get(
    "/signatures/{signature_id}",
    summary="One signature",
    description="A signature with everything kept about it."
    + EMAIL_RULE
    + " Scope: `signatures:read`.",
    response_model=SignatureAdmin,
    responses=problems(NotFound),
)
def read_signature(
    actor: Reader, signature_id: SignatureId, session: ReadSession
) -> SignatureAdmin:
    return signatures.get_signature(session, actor, signature_id)


@router.post(
    "/signatures/{signature_id}/strike",
    summary="Strike one signature",
    description="Marks a pending or confirmed signature `struck`, with a reason kept in the "
    "audit log. It leaves every count (a confirmed one comes off its petition's count), its "
    "links stop working, and the same email cannot sign that petition again. 409 if it is "
    "already withdrawn or struck." + EMAIL_RULE + " Scope: `signatures:moderate`.",
    response_model=SignatureAdmin,
    responses=problems(NotFound, Conflict),
)
def strike_signature(
    actor: Moderator, signature_id: SignatureId, body: StrikeRequest, session: WriteSession
) -> SignatureAdmin:
    struck = signatures.strike_signature(session, actor, signature_id, body.reason)
    metrics.SIGNATURES.labels("struck").inc()
    return struck


@router.post(
    "/signatures/{signature_id}/release",
    summary="Release one held signature",
    description="A held signature becomes `confirmed` and counts if its signer confirmed it, "
    "else `pending` (it counts once confirmed). The reason is kept in the audit log. 409 "
    "unless it is held. To refuse it instead, strike it." + EMAIL_RULE + " Scope: "
    "`signatures:moderate`.",
    response_model=SignatureAdmin,
    responses=problems(NotFound, Conflict),
)
def release_signature(
    actor: Moderator, signature_id: SignatureId, body: ReleaseRequest, session: WriteSession
) -> SignatureAdmin:
    return signatures.release_signature(session, actor, signature_id, body.reason)


CSV_EXAMPLE = (
    "name,county,state,postal_code,country,signed_at,email\r\n"
    "Ana Quintanilla,Orange County,FL,32801,US,2026-11-20T14:03:11+00:00,ana@example.org\r\n"
    "'=Bob Evil,Orange County,FL,32801,US,2026-11-20T14:05:42+00:00,bob@example.org\r\n"
)
NDJSON_EXAMPLE = (
    '{"name":"Ana Quintanilla","county":"Orange County","state":"FL","postal_code":"32801",'
    '"country":"US","signed_at":"2026-11-20T14:03:11+00:00","email":"ana@example.org"}\n'
)


@router.get(
    "/petitions/{slug}/signatures/export",
    summary="Export confirmed signatures (CSV or NDJSON)",
    description="Every confirmed signature of the petition, oldest first, for delivery to its "
    "target: `name`, `county`, `state`, `postal_code`, `country`, `signed_at` (when it was "
    "confirmed), and `email` only for keys that also hold `signatures:export` (and unless "
    "`include_email=false`). Streamed in batches: memory stays flat whatever the size. In "
    "CSV, a value starting with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed "
    "with `'` so spreadsheets show it as text instead of running it; NDJSON carries values as "
    "they are. Each export is recorded in the audit log. Scope: `signatures:read` (emails: "
    "also `signatures:export`).",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The export, streamed.",
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE},
                "application/x-ndjson": {"schema": {"type": "string"}, "example": NDJSON_EXAMPLE},
            },
        },
        **problems(NotFound),
    },
)
def export_signatures(
    actor: Reader,
    slug: PetitionSlugPath,
    session: WriteSession,
    database: DatabaseDep,
    export_format: Annotated[
        ExportFormat,
        Query(alias="format", description="`csv` (RFC 4180, UTF-8) or `ndjson` (one JSON a line)."),
    ] = ExportFormat.csv,
    include_email: Annotated[
        bool, Query(description="Set false to leave emails out even with `signatures:export`.")
    ] = True,
) -> StreamingResponse:
    started = signatures.start_export(session, actor, slug, export_format, include_email)
    filename = f"{slug}-signatures-{utcnow():%Y%m%d-%H%M%S}.{export_format.value}"
    chunks = export.export_chunks(
        database, started.petition_id, export_format, with_email=started.with_email
    )
    return StreamingResponse(
        chunks,
        media_type=export.MEDIA_TYPES[export_format],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
