"""Admin rules for signatures: search (emails masked unless the key may export them), strike
and release one or many, and the audit entry of an export. The petitions domain does the work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlmodel import Session, col, select

from api.abuse.models import ALL_PETITIONS
from api.admin.audit import audited
from api.admin.auth import Actor
from api.admin.models import Scope
from api.admin.signature_schemas import (
    ExportFormat,
    ReleaseByFilterRequest,
    ReleaseResult,
    SignatureAdmin,
    SignatureFilter,
    SignatureQuery,
    StrikeByFilterRequest,
    StrikeResult,
)
from api.errors import Conflict
from api.pagination import PageParams
from api.petitions import catalog, moderation
from api.petitions.models import Petition, Signature, SignatureStatus
from api.petitions.validation import canonical_email
from api.security import keyed_hash

# Criteria whose values identify a person: the audit log notes that they were used, not them.
_PERSONAL_CRITERIA = {"email", "ip_hash", "postal_code"}

# --- finding signatures -------------------------------------------------------------------


def mask_email(email: str) -> str:
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}"


def signature_filters(
    session: Session, secret: bytes, query: SignatureQuery
) -> moderation.SignatureFilters:
    petition_id = None
    if query.petition is not None:
        petition_id = catalog.petition_by_slug(session, query.petition).id
    postal_code = None
    if query.postal_code is not None:
        postal_code = " ".join(query.postal_code.split()).upper()
    return moderation.SignatureFilters(
        petition_id=petition_id,
        status=query.status,
        signed_from=query.signed_from,
        signed_to=query.signed_to,
        email_hash=keyed_hash(secret, "email", canonical_email(query.email))
        if query.email is not None
        else None,
        email_domain=query.email_domain.strip().rstrip(".").casefold()
        if query.email_domain is not None
        else None,
        ip_hash=query.ip_hash,
        postal_code=postal_code,
    )


def _signature_views(
    session: Session, rows: Sequence[Signature], actor: Actor
) -> list[SignatureAdmin]:
    ids = {s.petition_id for s in rows}
    slugs = dict(
        session.exec(select(Petition.id, Petition.slug).where(col(Petition.id).in_(ids))).all()
    )
    full_email = actor.has(Scope.signatures_export)
    views = []
    for s in rows:
        email = s.email if full_email or s.email is None else mask_email(s.email)
        views.append(
            SignatureAdmin(
                **s.model_dump(exclude={"email", "email_hash", "emails_sent", "petition_id"}),
                email=email,
                petition_slug=slugs[s.petition_id],
            )
        )
    return views


def search_signatures(
    session: Session, actor: Actor, secret: bytes, query: SignatureQuery, page: PageParams
) -> tuple[list[SignatureAdmin], str | None]:
    filters = signature_filters(session, secret, query)
    rows, cursor = moderation.search_signatures(session, filters, page)
    return _signature_views(session, rows, actor), cursor


def get_signature(session: Session, actor: Actor, signature_id: int) -> SignatureAdmin:
    return _signature_views(session, [moderation.get_signature(session, signature_id)], actor)[0]


def _criteria_for_audit(criteria: SignatureFilter) -> dict[str, Any]:
    used = criteria.model_dump(mode="json", include=criteria.model_fields_set)
    return {k: ("(given)" if k in _PERSONAL_CRITERIA else v) for k, v in used.items()}


class _Outcome(Protocol):
    signature_ids: list[int]


Outcome = TypeVar("Outcome", bound=_Outcome)


def _change_one(
    session: Session,
    signature: Signature,
    change: Callable[[Session, moderation.SignatureFilters], Outcome],
    done: str,
) -> Outcome:
    """Strike or release one signature, which another request may have changed meanwhile."""
    outcome = change(session, moderation.SignatureFilters(signature_id=signature.id))
    if not outcome.signature_ids:  # withdrawn, struck or released by someone else meanwhile
        raise Conflict(f"Signature {signature.id} changed meanwhile; it was not {done}.")
    session.refresh(signature)
    return outcome


# --- strike -------------------------------------------------------------------------------


def strike_signature(
    session: Session, actor: Actor, signature_id: int, reason: str
) -> SignatureAdmin:
    signature = moderation.get_signature(session, signature_id)
    if signature.status not in {status.value for status in moderation.STRIKABLE}:
        raise Conflict(f"Signature {signature_id} is {signature.status}; it cannot be struck.")
    with audited(session, actor, "signature.strike", "signature", str(signature_id)) as step:
        outcome = _change_one(session, signature, moderation.strike_signatures, "struck")
        before_status = next(status for status, n in outcome.by_status.items() if n)
        step.before = {"status": before_status}
        step.after = {"status": signature.status, "reason": reason}
    return _signature_views(session, [signature], actor)[0]


def strike_by_filter(
    session: Session, actor: Actor, secret: bytes, data: StrikeByFilterRequest
) -> StrikeResult:
    filters = signature_filters(session, secret, data.filter)
    if data.dry_run:
        counts = moderation.count_strikable(session, filters)
        return StrikeResult(
            dry_run=True,
            struck=sum(counts.values()),
            uncounted=counts[SignatureStatus.confirmed.value],
        )
    target = data.filter.petition or ALL_PETITIONS
    with audited(session, actor, "signatures.strike", "signatures", target) as step:
        outcome = moderation.strike_signatures(session, filters)
        # What was struck is known only once it is: the statuses it had are the "before".
        step.before = {"by_status": outcome.by_status}
        step.after = {
            "status": SignatureStatus.struck.value,
            "reason": data.reason,
            "filter": _criteria_for_audit(data.filter),
            "signature_ids": outcome.signature_ids,
        }
    return StrikeResult(
        dry_run=False,
        struck=len(outcome.signature_ids),
        uncounted=outcome.by_status[SignatureStatus.confirmed.value],
    )


# --- release (held signatures) ------------------------------------------------------------


def release_signature(
    session: Session, actor: Actor, signature_id: int, reason: str
) -> SignatureAdmin:
    signature = moderation.get_signature(session, signature_id)
    if signature.status != SignatureStatus.held.value:
        raise Conflict(f"Signature {signature_id} is {signature.status}, not held.")
    was_held = {"status": SignatureStatus.held.value}
    target = str(signature_id)
    with audited(session, actor, "signature.release", "signature", target, before=was_held) as step:
        outcome = _change_one(session, signature, moderation.release_signatures, "released")
        step.after = {
            "status": signature.status,
            "reason": reason,
            "counted": bool(outcome.counted),
        }
    return _signature_views(session, [signature], actor)[0]


def release_by_filter(
    session: Session, actor: Actor, secret: bytes, data: ReleaseByFilterRequest
) -> ReleaseResult:
    filters = signature_filters(session, secret, data.filter)
    if data.dry_run:
        held, confirmed = moderation.count_held(session, filters)
        return ReleaseResult(dry_run=True, released=held, counted=confirmed)
    was_held = {"status": SignatureStatus.held.value}
    target = data.filter.petition or ALL_PETITIONS
    with audited(
        session, actor, "signatures.release", "signatures", target, before=was_held
    ) as step:
        outcome = moderation.release_signatures(session, filters)
        step.after = {
            "reason": data.reason,
            "filter": _criteria_for_audit(data.filter),
            "signature_ids": outcome.signature_ids,
            "counted": outcome.counted,
        }
    return ReleaseResult(
        dry_run=False, released=len(outcome.signature_ids), counted=outcome.counted
    )


# --- export -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportStart:
    petition_id: int
    with_email: bool


def start_export(
    session: Session,
    actor: Actor,
    slug: str,
    export_format: ExportFormat,
    include_email: bool,
) -> ExportStart:
    """Check the petition, decide whether emails go out (only to keys that may export them,
    and only if asked), and log the export: personal data leaving the system."""
    with_email = include_email and actor.has(Scope.signatures_export)
    with audited(session, actor, "signatures.export", "petition", slug) as step:
        petition = catalog.petition_by_slug(session, slug)
        step.after = {"format": export_format.value, "with_email": with_email}
    assert petition.id is not None
    return ExportStart(petition_id=petition.id, with_email=with_email)
