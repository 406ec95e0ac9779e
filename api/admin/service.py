"""Admin rules: every action goes through here, is checked, and is written to the audit log in
the same unit of work. The domains' own services do the work; this layer records who did it.

Audit entries never hold a signer's email, IP address or postal code: strikes record signature
ids, counts, the reason, and which criteria were used (not their values, where personal).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from api.abuse.models import (
    ALL_PETITIONS,
    BlockedEmailDomain,
    BlockedIpRange,
    SigningPause,
)
from api.abuse.service import forget_block_lists
from api.admin.auth import Actor, create_api_key, revoke_api_key
from api.admin.models import (
    ApiKey,
    AuditEntry,
    AuditEntryPublic,
    BlockedDomainCreate,
    BlockedDomainPublic,
    BlockedRangeCreate,
    BlockedRangePublic,
    PausePublic,
    PauseRequest,
    PetitionAdmin,
    PetitionCreate,
    PetitionDetail,
    PetitionText,
    PetitionUpdate,
    PetitionVersionAdmin,
    ReleaseByFilterRequest,
    ReleaseResult,
    Scope,
    SignatureAdmin,
    SignatureFilter,
    SignatureQuery,
    StrikeByFilterRequest,
    StrikeResult,
)
from api.db import utcnow
from api.errors import Conflict, NotFound, UnprocessableContent, field_error, invalid
from api.incident import discrepancies, facts, reads, sources
from api.incident.admin_schemas import (
    CitationAdmin,
    CitationIn,
    CitationUpdate,
    DiscrepancyCreate,
    DiscrepancyUpdate,
    FactCreate,
    FactUpdate,
    SourceAdmin,
    SourceCreate,
    SourceUpdate,
)
from api.incident.schemas import DiscrepancyPublic, FactPublic
from api.pagination import PageParams, paginate
from api.petitions import service as petitions
from api.petitions.models import (
    Petition,
    PetitionStatus,
    PetitionVersion,
    Signature,
    SignatureStatus,
    VersionPublic,
)
from api.petitions.validation import canonical_email
from api.security import keyed_hash

logger = logging.getLogger(__name__)

# --- the audit log ------------------------------------------------------------------------


def record(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            key_id=actor.key_id,
            key_name=actor.name,
            action=action,
            target_type=target_type,
            target_id=target_id[:200],
            before=before,
            after=after,
        )
    )
    # The action and the key only: targets may be personal (an IP range, a signer).
    logger.info("admin action %s on a %s by key %s", action, target_type, actor.key_id)


def list_audit(
    session: Session,
    page: PageParams,
    *,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    key_id: int | None = None,
) -> tuple[list[AuditEntryPublic], str | None]:
    statement = select(AuditEntry)
    if action is not None:
        statement = statement.where(AuditEntry.action == action)
    if target_type is not None:
        statement = statement.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        statement = statement.where(AuditEntry.target_id == target_id)
    if key_id is not None:
        statement = statement.where(AuditEntry.key_id == key_id)
    rows, cursor = paginate(
        session, statement, [AuditEntry.id], page, key=lambda e: (e.id,), descending=True
    )
    return [AuditEntryPublic.model_validate(row, from_attributes=True) for row in rows], cursor


# --- petitions ----------------------------------------------------------------------------


def _pause_public(pause: SigningPause) -> PausePublic:
    return PausePublic.model_validate(pause, from_attributes=True)


def _pauses(session: Session) -> dict[str, SigningPause]:
    return {p.scope: p for p in session.exec(select(SigningPause))}


def _petition_admin(
    session: Session,
    petition: Petition,
    pauses: dict[str, SigningPause] | None = None,
    counts: dict[int, int] | None = None,
) -> PetitionAdmin:
    assert petition.id is not None
    pauses = _pauses(session) if pauses is None else pauses
    if counts is None:
        counts = petitions.verified_counts(session, [petition.id])
    pause = pauses.get(petition.slug) or pauses.get(ALL_PETITIONS)
    return PetitionAdmin(
        slug=petition.slug,
        title=petition.title,
        ask=petition.ask,
        target=petition.target,
        body=petition.body,
        translations={
            lang: PetitionText(**text) for lang, text in sorted(petition.translations.items())
        },
        status=PetitionStatus(petition.status),
        goal=petition.goal,
        milestones=petition.milestones,
        opens_at=petition.opens_at,
        closes_at=petition.closes_at,
        closed_at=petition.closed_at,
        version=VersionPublic(number=petition.version, content_hash=petition.content_hash),
        verified_count=counts.get(petition.id, 0),
        paused=_pause_public(pause) if pause is not None else None,
        created_at=petition.created_at,
        updated_at=petition.updated_at,
    )


def _petition_detail(session: Session, petition: Petition) -> PetitionDetail:
    assert petition.id is not None
    versions = petitions.petition_versions(session, petition.id)
    return PetitionDetail(
        **_petition_admin(session, petition).model_dump(),
        versions=[_version(v) for v in versions],
    )


def _version(version: PetitionVersion) -> PetitionVersionAdmin:
    return PetitionVersionAdmin.model_validate(version, from_attributes=True)


def _petition_snapshot(session: Session, petition: Petition) -> dict[str, Any]:
    return _petition_admin(session, petition).model_dump(
        mode="json", exclude={"verified_count", "paused"}
    )


def list_petitions(session: Session, page: PageParams) -> tuple[list[PetitionAdmin], str | None]:
    rows, cursor = petitions.list_all_petitions(session, page)
    pauses = _pauses(session)
    counts = petitions.verified_counts(session, [p.id for p in rows if p.id is not None])
    return [_petition_admin(session, p, pauses, counts) for p in rows], cursor


def get_petition(session: Session, slug: str) -> PetitionDetail:
    return _petition_detail(session, petitions.petition_by_slug(session, slug))


def _check_window(opens_at: Any, closes_at: Any) -> None:
    if opens_at is not None and closes_at is not None and closes_at <= opens_at:
        raise invalid("closes_at", "Must be after opens_at.", "window")


def _check_fact_references(session: Session, body: str) -> None:
    """Every `[fact:ID]` in a petition's text must name a fact (api.incident.support)."""
    unknown = reads.unknown_fact_references(session, body)
    if unknown:
        names = ", ".join(f"[fact:{fact_id}]" for fact_id in unknown)
        raise invalid("body", f"Refers to no such fact: {names}.", "unknown_fact")


def create_petition(session: Session, actor: Actor, data: PetitionCreate) -> PetitionDetail:
    if session.exec(select(Petition.id).where(Petition.slug == data.slug)).first() is not None:
        raise Conflict(f"A petition with slug '{data.slug}' already exists.")
    _check_window(data.opens_at, data.closes_at)
    fields = data.model_dump()
    fields["status"] = "draft"
    # create_petition reads times as ISO strings (as in the seed files).
    for name in ("opens_at", "closes_at"):
        fields[name] = fields[name].isoformat() if fields[name] is not None else None
    _check_fact_references(session, data.body)
    petition = petitions.create_petition(session, fields)
    record(
        session,
        actor,
        "petition.create",
        "petition",
        petition.slug,
        after=_petition_snapshot(session, petition),
    )
    return _petition_detail(session, petition)


def update_petition(
    session: Session, actor: Actor, slug: str, data: PetitionUpdate
) -> PetitionDetail:
    petition = petitions.petition_by_slug(session, slug, for_update=True)
    before = _petition_snapshot(session, petition)
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    _check_window(
        changes.get("opens_at", petition.opens_at), changes.get("closes_at", petition.closes_at)
    )
    if "body" in changes:
        _check_fact_references(session, changes["body"])
    petitions.update_petition(session, petition, changes)
    after = _petition_snapshot(session, petition)
    record(session, actor, "petition.update", "petition", slug, before=before, after=after)
    return _petition_detail(session, petition)


def set_petition_text(
    session: Session, actor: Actor, slug: str, lang: str, text: PetitionText | None
) -> PetitionDetail:
    """Set (or remove, with None) the petition's text in one language: a new version."""
    petition = petitions.petition_by_slug(session, slug, for_update=True)
    before = _petition_snapshot(session, petition)
    petitions.set_petition_text(
        session, petition, lang, text.model_dump() if text is not None else None
    )
    after = _petition_snapshot(session, petition)
    action = "petition.text.set" if text is not None else "petition.text.delete"
    record(session, actor, action, "petition", f"{slug}/{lang}", before=before, after=after)
    return _petition_detail(session, petition)


def open_petition(session: Session, actor: Actor, slug: str) -> PetitionDetail:
    petition = petitions.petition_by_slug(session, slug, for_update=True)
    before = {"status": petition.status, "closed_at": _iso(petition.closed_at)}
    petitions.open_petition(session, petition)
    after = {"status": petition.status, "closed_at": None}
    record(session, actor, "petition.open", "petition", slug, before=before, after=after)
    return _petition_detail(session, petition)


def close_petition(session: Session, actor: Actor, slug: str) -> PetitionDetail:
    petition = petitions.petition_by_slug(session, slug, for_update=True)
    before = {"status": petition.status, "closed_at": None}
    petitions.close_petition(session, petition)
    after = {"status": petition.status, "closed_at": _iso(petition.closed_at)}
    record(session, actor, "petition.close", "petition", slug, before=before, after=after)
    return _petition_detail(session, petition)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


# --- the emergency switch -----------------------------------------------------------------


def list_pauses(session: Session) -> list[PausePublic]:
    rows = session.exec(select(SigningPause).order_by(col(SigningPause.scope))).all()
    return [_pause_public(p) for p in rows]


def pause_signing(session: Session, actor: Actor, scope: str, data: PauseRequest) -> PausePublic:
    """Stop signing on one petition (`scope` = its slug) or on all (`*`). Pausing again
    replaces the reason and the retry time."""
    if scope != ALL_PETITIONS:
        petitions.petition_by_slug(session, scope)  # 404 for an unknown slug
    pause = session.get(SigningPause, scope)
    before = _pause_public(pause).model_dump(mode="json") if pause is not None else None
    if pause is None:
        pause = SigningPause(scope=scope)
    pause.reason = data.reason
    pause.retry_after_seconds = data.retry_after_seconds
    pause.created_at = utcnow()
    session.add(pause)
    session.flush()
    public = _pause_public(pause)
    record(
        session,
        actor,
        "signing.pause",
        "signing",
        scope,
        before=before,
        after=public.model_dump(mode="json"),
    )
    return public


def resume_signing(session: Session, actor: Actor, scope: str) -> None:
    pause = session.get(SigningPause, scope)
    if pause is None:
        where = "any petition" if scope == ALL_PETITIONS else f"'{scope}'"
        raise NotFound(f"Signing on {where} is not paused.")
    before = _pause_public(pause).model_dump(mode="json")
    session.delete(pause)
    session.flush()
    record(session, actor, "signing.resume", "signing", scope, before=before)


# --- block lists --------------------------------------------------------------------------


def normalise_domain(value: str, where: str = "body") -> str:
    """The form the signing check compares: case-folded Unicode, without a trailing dot."""
    domain = value.strip().rstrip(".").casefold()
    if "xn--" in domain:
        try:
            domain = domain.encode("ascii").decode("idna")
        except (UnicodeError, ValueError) as exc:
            raise _invalid(
                where, "domain", "Is not a valid domain name.", "invalid_domain"
            ) from exc
    labels = domain.split(".")
    valid = len(labels) >= 2 and all(
        0 < len(label) <= 63
        and not label.startswith("-")
        and not label.endswith("-")
        and all(ch.isalnum() or ch == "-" for ch in label)
        for label in labels
    )
    if not valid:
        raise _invalid(
            where,
            "domain",
            "Is not a domain name like `example.org` (no `@`, no spaces).",
            "invalid_domain",
        )
    return domain


def normalise_cidr(value: str, where: str = "body") -> str:
    text = value.strip()
    try:
        return str(ipaddress.ip_network(text))
    except ValueError as exc:
        try:
            suggestion = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise _invalid(
                where,
                "cidr",
                "Is not an IP network like `203.0.113.0/24`, nor one address.",
                "invalid_cidr",
            ) from exc
        raise _invalid(
            where, "cidr", f"Has host bits set; did you mean `{suggestion}`?", "host_bits_set"
        ) from exc


def _invalid(where: str, name: str, message: str, code: str) -> UnprocessableContent:
    return UnprocessableContent(
        f"{name}: {message}", errors=[field_error([where, name], message, code)]
    )


def list_blocked_domains(
    session: Session, page: PageParams
) -> tuple[list[BlockedDomainPublic], str | None]:
    rows, cursor = paginate(
        session,
        select(BlockedEmailDomain),
        [BlockedEmailDomain.domain],
        page,
        key=lambda row: (row.domain,),
    )
    return [BlockedDomainPublic.model_validate(r, from_attributes=True) for r in rows], cursor


def _block(
    session: Session,
    actor: Actor,
    row: BlockedEmailDomain | BlockedIpRange,
    key: str,
    public_type: type[BlockedDomainPublic] | type[BlockedRangePublic],
    what: str,
) -> Any:
    """Add one block-list entry, audit it, and make every process re-read the lists."""
    if session.get(type(row), key) is not None:
        raise Conflict(f"The {what} '{key}' is already blocked.")
    session.add(row)
    session.flush()
    public = public_type.model_validate(row, from_attributes=True)
    after = public.model_dump(mode="json")
    record(session, actor, "blocklist.add", str(type(row).__tablename__), key, after=after)
    forget_block_lists()
    return public


def _unblock(
    session: Session,
    actor: Actor,
    model: type[BlockedEmailDomain] | type[BlockedIpRange],
    key: str,
    public_type: type[BlockedDomainPublic] | type[BlockedRangePublic],
    what: str,
) -> None:
    row = session.get(model, key)
    if row is None:
        raise NotFound(f"The {what} '{key}' is not blocked.")
    before = public_type.model_validate(row, from_attributes=True).model_dump(mode="json")
    session.delete(row)
    session.flush()
    record(session, actor, "blocklist.remove", str(model.__tablename__), key, before=before)
    forget_block_lists()


def block_domain(session: Session, actor: Actor, data: BlockedDomainCreate) -> BlockedDomainPublic:
    domain = normalise_domain(data.domain)
    row = BlockedEmailDomain(domain=domain, reason=data.reason)
    public: BlockedDomainPublic = _block(session, actor, row, domain, BlockedDomainPublic, "domain")
    return public


def unblock_domain(session: Session, actor: Actor, domain: str) -> None:
    domain = normalise_domain(domain, "query")
    _unblock(session, actor, BlockedEmailDomain, domain, BlockedDomainPublic, "domain")


def list_blocked_ranges(
    session: Session, page: PageParams
) -> tuple[list[BlockedRangePublic], str | None]:
    rows, cursor = paginate(
        session, select(BlockedIpRange), [BlockedIpRange.cidr], page, key=lambda r: (r.cidr,)
    )
    return [BlockedRangePublic.model_validate(r, from_attributes=True) for r in rows], cursor


def block_range(session: Session, actor: Actor, data: BlockedRangeCreate) -> BlockedRangePublic:
    cidr = normalise_cidr(data.cidr)
    row = BlockedIpRange(cidr=cidr, reason=data.reason)
    public: BlockedRangePublic = _block(session, actor, row, cidr, BlockedRangePublic, "range")
    return public


def unblock_range(session: Session, actor: Actor, cidr: str) -> None:
    cidr = normalise_cidr(cidr, "query")
    _unblock(session, actor, BlockedIpRange, cidr, BlockedRangePublic, "range")


# --- signatures ---------------------------------------------------------------------------


def mask_email(email: str) -> str:
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}"


def signature_filters(
    session: Session, secret: bytes, query: SignatureQuery
) -> petitions.SignatureFilters:
    petition_id = None
    if query.petition is not None:
        petition_id = petitions.petition_by_slug(session, query.petition).id
    postal_code = None
    if query.postal_code is not None:
        postal_code = " ".join(query.postal_code.split()).upper()
    return petitions.SignatureFilters(
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
    rows, cursor = petitions.search_signatures(session, filters, page)
    return _signature_views(session, rows, actor), cursor


def get_signature(session: Session, actor: Actor, signature_id: int) -> SignatureAdmin:
    return _signature_views(session, [petitions.get_signature(session, signature_id)], actor)[0]


def strike_signature(
    session: Session, actor: Actor, signature_id: int, reason: str
) -> SignatureAdmin:
    signature = petitions.get_signature(session, signature_id)
    if signature.status not in {status.value for status in petitions.STRIKABLE}:
        raise Conflict(f"Signature {signature_id} is {signature.status}; it cannot be struck.")
    outcome = petitions.strike_signatures(
        session, petitions.SignatureFilters(signature_id=signature_id)
    )
    if not outcome.signature_ids:  # withdrawn or struck by someone else in the meantime
        raise Conflict(f"Signature {signature_id} changed meanwhile; it was not struck.")
    before_status = next(status for status, n in outcome.by_status.items() if n)
    session.refresh(signature)
    record(
        session,
        actor,
        "signature.strike",
        "signature",
        str(signature_id),
        before={"status": before_status},
        after={"status": signature.status, "reason": reason},
    )
    return _signature_views(session, [signature], actor)[0]


# Criteria whose values identify a person: the audit log notes that they were used, not them.
_PERSONAL_CRITERIA = {"email", "ip_hash", "postal_code"}


def _criteria_for_audit(criteria: SignatureFilter) -> dict[str, Any]:
    used = criteria.model_dump(mode="json", include=criteria.model_fields_set)
    return {k: ("(given)" if k in _PERSONAL_CRITERIA else v) for k, v in used.items()}


def strike_by_filter(
    session: Session, actor: Actor, secret: bytes, data: StrikeByFilterRequest
) -> StrikeResult:
    filters = signature_filters(session, secret, data.filter)
    if data.dry_run:
        counts = petitions.count_strikable(session, filters)
        return StrikeResult(
            dry_run=True,
            struck=sum(counts.values()),
            uncounted=counts[SignatureStatus.confirmed.value],
        )
    outcome = petitions.strike_signatures(session, filters)
    target = data.filter.petition or ALL_PETITIONS
    record(
        session,
        actor,
        "signatures.strike",
        "signatures",
        target,
        before={"by_status": outcome.by_status},
        after={
            "status": SignatureStatus.struck.value,
            "reason": data.reason,
            "filter": _criteria_for_audit(data.filter),
            "signature_ids": outcome.signature_ids,
        },
    )
    return StrikeResult(
        dry_run=False,
        struck=len(outcome.signature_ids),
        uncounted=outcome.by_status[SignatureStatus.confirmed.value],
    )


def release_signature(
    session: Session, actor: Actor, signature_id: int, reason: str
) -> SignatureAdmin:
    signature = petitions.get_signature(session, signature_id)
    if signature.status != SignatureStatus.held.value:
        raise Conflict(f"Signature {signature_id} is {signature.status}, not held.")
    outcome = petitions.release_signatures(
        session, petitions.SignatureFilters(signature_id=signature_id)
    )
    if not outcome.signature_ids:  # released, withdrawn or struck meanwhile
        raise Conflict(f"Signature {signature_id} changed meanwhile; it was not released.")
    session.refresh(signature)
    record(
        session,
        actor,
        "signature.release",
        "signature",
        str(signature_id),
        before={"status": SignatureStatus.held.value},
        after={"status": signature.status, "reason": reason, "counted": bool(outcome.counted)},
    )
    return _signature_views(session, [signature], actor)[0]


def release_by_filter(
    session: Session, actor: Actor, secret: bytes, data: ReleaseByFilterRequest
) -> ReleaseResult:
    filters = signature_filters(session, secret, data.filter)
    if data.dry_run:
        held, confirmed = petitions.count_held(session, filters)
        return ReleaseResult(dry_run=True, released=held, counted=confirmed)
    outcome = petitions.release_signatures(session, filters)
    record(
        session,
        actor,
        "signatures.release",
        "signatures",
        data.filter.petition or ALL_PETITIONS,
        before={"status": SignatureStatus.held.value},
        after={
            "reason": data.reason,
            "filter": _criteria_for_audit(data.filter),
            "signature_ids": outcome.signature_ids,
            "counted": outcome.counted,
        },
    )
    return ReleaseResult(
        dry_run=False, released=len(outcome.signature_ids), counted=outcome.counted
    )


def start_export(
    session: Session, actor: Actor, slug: str, export_format: str, with_email: bool
) -> Petition:
    """Check the petition and log the export (personal data leaving the system)."""
    petition = petitions.petition_by_slug(session, slug)
    record(
        session,
        actor,
        "signatures.export",
        "petition",
        slug,
        after={"format": export_format, "with_email": with_email},
    )
    return petition


# --- facts, sources, citations, discrepancies ---------------------------------------------


def _dump(model: Any, exclude: set[str] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json", exclude=exclude)
    return data


def _source_snapshot(source: SourceAdmin) -> dict[str, Any]:
    # The text can be long: the log keeps its hash (content_sha256) and length.
    data = _dump(source, exclude={"text", "fact_count"})
    data["text_length"] = len(source.text) if source.text is not None else None
    return data


def create_source(session: Session, actor: Actor, data: SourceCreate) -> SourceAdmin:
    source = sources.create_source(session, data)
    record(session, actor, "source.create", "source", source.id, after=_source_snapshot(source))
    return source


def update_source(
    session: Session, actor: Actor, source_id: str, data: SourceUpdate
) -> SourceAdmin:
    before = _source_snapshot(sources.get_source_admin(session, source_id))
    source = sources.update_source(session, source_id, data)
    after = _source_snapshot(source)
    record(session, actor, "source.update", "source", source_id, before=before, after=after)
    return source


def delete_source(session: Session, actor: Actor, source_id: str) -> None:
    before = _source_snapshot(sources.get_source_admin(session, source_id))
    sources.delete_source(session, source_id)
    record(session, actor, "source.delete", "source", source_id, before=before)


def create_fact(session: Session, actor: Actor, data: FactCreate) -> FactPublic:
    fact = facts.create_fact(session, data)
    record(session, actor, "fact.create", "fact", fact.id, after=_dump(fact))
    return fact


def update_fact(session: Session, actor: Actor, fact_id: str, data: FactUpdate) -> FactPublic:
    before = _dump(reads.get_fact(session, fact_id))
    fact = facts.update_fact(session, fact_id, data)
    record(session, actor, "fact.update", "fact", fact_id, before=before, after=_dump(fact))
    return fact


def delete_fact(session: Session, actor: Actor, fact_id: str) -> None:
    before = _dump(reads.get_fact(session, fact_id))
    citing = petitions.petitions_citing_fact(session, fact_id)
    if citing:
        raise Conflict(
            f"The text of petition '{citing[0]}' refers to [fact:{fact_id}]; edit it first."
        )
    facts.delete_fact(session, fact_id)
    record(session, actor, "fact.delete", "fact", fact_id, before=before)


def add_citation(session: Session, actor: Actor, fact_id: str, data: CitationIn) -> CitationAdmin:
    citation = facts.add_citation(session, fact_id, data)
    target = f"{fact_id}/{citation.position}"
    record(session, actor, "citation.create", "citation", target, after=_dump(citation))
    return citation


def update_citation(
    session: Session, actor: Actor, fact_id: str, position: int, data: CitationUpdate
) -> CitationAdmin:
    before = _dump(facts.get_citation(session, fact_id, position))
    citation = facts.update_citation(session, fact_id, position, data)
    target = f"{fact_id}/{position}"
    after = _dump(citation)
    record(session, actor, "citation.update", "citation", target, before=before, after=after)
    return citation


def delete_citation(session: Session, actor: Actor, fact_id: str, position: int) -> None:
    before = _dump(facts.get_citation(session, fact_id, position))
    facts.delete_citation(session, fact_id, position)
    record(session, actor, "citation.delete", "citation", f"{fact_id}/{position}", before=before)


def create_discrepancy(
    session: Session, actor: Actor, data: DiscrepancyCreate
) -> DiscrepancyPublic:
    discrepancy = discrepancies.create_discrepancy(session, data)
    after = _dump(discrepancy)
    record(session, actor, "discrepancy.create", "discrepancy", discrepancy.id, after=after)
    return discrepancy


def update_discrepancy(
    session: Session, actor: Actor, discrepancy_id: str, data: DiscrepancyUpdate
) -> DiscrepancyPublic:
    before = _dump(reads.get_discrepancy(session, discrepancy_id))
    discrepancy = discrepancies.update_discrepancy(session, discrepancy_id, data)
    after = _dump(discrepancy)
    record(
        session,
        actor,
        "discrepancy.update",
        "discrepancy",
        discrepancy_id,
        before=before,
        after=after,
    )
    return discrepancy


def delete_discrepancy(session: Session, actor: Actor, discrepancy_id: str) -> None:
    before = _dump(reads.get_discrepancy(session, discrepancy_id))
    discrepancies.delete_discrepancy(session, discrepancy_id)
    record(session, actor, "discrepancy.delete", "discrepancy", discrepancy_id, before=before)


# --- API keys (the CLI) -------------------------------------------------------------------


def _key_snapshot(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": key.scopes,
        "revoked_at": _iso(key.revoked_at),
    }


def issue_api_key(
    session: Session, actor: Actor, name: str, scopes: Sequence[str]
) -> tuple[ApiKey, str]:
    """A new key and its secret (shown once). ValueError for a bad name or scope."""
    key, secret = create_api_key(session, name, scopes)
    record(session, actor, "api_key.create", "api_key", str(key.id), after=_key_snapshot(key))
    return key, secret


def revoke_key(session: Session, actor: Actor, key: str) -> ApiKey:
    row = revoke_api_key(session, key)
    before = {**_key_snapshot(row), "revoked_at": None}
    record(
        session,
        actor,
        "api_key.revoke",
        "api_key",
        str(row.id),
        before=before,
        after=_key_snapshot(row),
    )
    return row
