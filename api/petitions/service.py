"""Petition rules: signing, confirming, withdrawing, counting. Services flush, never commit."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy
from sqlalchemy import delete, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from api.abuse import service as abuse
from api.abuse.models import AccessToken, IdempotencyRecord
from api.db import UtcDateTime, table_of, utcnow
from api.errors import Conflict, Gone, NotFound, PetitionNotOpen
from api.mail import service as mail
from api.pagination import PageParams, paginate
from api.petitions.models import (
    COUNT_SHARDS,
    DEFAULT_TEXT_LANGUAGE,
    ConfirmResult,
    CountPublic,
    CountShard,
    MySignature,
    MySignatures,
    Petition,
    PetitionPublic,
    PetitionStats,
    PetitionStatus,
    PetitionVersion,
    RecentSignature,
    ReferralCount,
    Signature,
    SignatureCreate,
    SignatureStatus,
    SignatureToken,
    SigningState,
    StatBucket,
    TokenPurpose,
    VersionPublic,
    WithdrawResult,
    signing_state,
)
from api.petitions.validation import canonical_email, resolve_postal_code
from api.security import keyed_hash, new_token, token_hash

CONFIRM_TOKEN_LIFETIME = dt.timedelta(days=7)
TEXT_FIELDS = ("title", "ask", "target", "body")  # a petition's text, in each language
CONFIRMING_TEMPLATES = ("confirm", "reminder")  # mails that carry a confirm link
EMAILS_PER_SIGNATURE = 3  # the confirmation and at most two reminders, however often one signs
# A signer's own signatures that are still standing (not withdrawn or struck).
LIVE_STATUSES = [
    s.value for s in (SignatureStatus.pending, SignatureStatus.confirmed, SignatureStatus.held)
]


@dataclass(frozen=True)
class SigningContext:
    """What the service needs from the request and the settings to take a signature."""

    secret: bytes
    public_base_url: str
    client_ip: str | None
    # The address is past its allowance of accepted signatures: take it, but hold it for review.
    hold_for_review: bool = False
    recipient_limit: mail.RecipientLimit | None = None


# --- petitions ----------------------------------------------------------------------------


def content_hash(
    title: str,
    ask: str,
    target: str,
    body: str,
    translations: dict[str, dict[str, str]] | None = None,
) -> str:
    """SHA-256 of the text in every language. Without translations it is the hash of the
    English text alone, as before translations existed, so older versions keep their hash."""
    parts: list[Any] = [title, ask, target, body]
    if translations:
        parts.append({lang: translations[lang] for lang in sorted(translations)})
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _hash_of(petition: Petition) -> str:
    return content_hash(
        petition.title, petition.ask, petition.target, petition.body, petition.translations
    )


@dataclass(frozen=True)
class PetitionText:
    language: str
    title: str
    ask: str
    target: str
    body: str


def petition_text(petition: Petition, lang: str | None) -> PetitionText:
    """The petition's text in `lang` if it has it, else in English."""
    translation = petition.translations.get(lang or "") if lang != DEFAULT_TEXT_LANGUAGE else None
    if translation:
        return PetitionText(lang or "", **{name: translation[name] for name in TEXT_FIELDS})
    return PetitionText(
        DEFAULT_TEXT_LANGUAGE, petition.title, petition.ask, petition.target, petition.body
    )


def available_languages(petition: Petition) -> list[str]:
    return [DEFAULT_TEXT_LANGUAGE, *sorted(petition.translations)]


def _new_version(session: Session, petition: Petition) -> None:
    assert petition.id is not None
    session.add(
        PetitionVersion(
            petition_id=petition.id,
            number=petition.version,
            content_hash=petition.content_hash,
            title=petition.title,
            ask=petition.ask,
            target=petition.target,
            body=petition.body,
            translations=dict(petition.translations),
        )
    )


def create_petition(session: Session, data: dict[str, Any]) -> Petition:
    """A new petition with its first version and its count shards. `translations` (optional)
    holds its text in other languages: {"es": {"title", "ask", "target", "body"}}."""
    translations = {
        lang: {name: text[name] for name in TEXT_FIELDS}
        for lang, text in (data.get("translations") or {}).items()
    }
    digest = content_hash(data["title"], data["ask"], data["target"], data["body"], translations)
    petition = Petition(
        slug=data["slug"],
        title=data["title"],
        ask=data["ask"],
        target=data["target"],
        body=data["body"],
        status=PetitionStatus(data.get("status", "draft")).value,
        goal=data["goal"],
        milestones=list(data.get("milestones", [])),
        opens_at=_parse_time(data.get("opens_at")),
        closes_at=_parse_time(data.get("closes_at")),
        version=1,
        content_hash=digest,
        translations=translations,
    )
    session.add(petition)
    session.flush()
    assert petition.id is not None
    _new_version(session, petition)
    session.add_all(
        CountShard(petition_id=petition.id, shard=shard) for shard in range(COUNT_SHARDS)
    )
    session.flush()
    return petition


def load_petitions(session: Session, data: dict[str, Any]) -> int:
    """Seed petitions that do not exist yet; existing ones are left as staff keep them."""
    added = 0
    for item in data["petitions"]:
        if session.exec(select(Petition.id).where(Petition.slug == item["slug"])).first():
            continue
        create_petition(session, item)
        added += 1
    return added


def _parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def _published_petition(session: Session, slug: str) -> Petition:
    """A petition the public may see: drafts answer 404 like unknown slugs."""
    petition = petition_by_slug(session, slug)
    if petition.status == PetitionStatus.draft.value:
        raise NotFound(f"No petition with slug '{slug}'.")
    return petition


def _public(petition: Petition, verified: int, lang: str | None) -> PetitionPublic:
    text = petition_text(petition, lang)
    return PetitionPublic(
        slug=petition.slug,
        language=text.language,
        available_languages=available_languages(petition),
        title=text.title,
        ask=text.ask,
        target=text.target,
        body=text.body,
        status=PetitionStatus(petition.status),
        goal=petition.goal,
        milestones=petition.milestones,
        opens_at=petition.opens_at,
        closes_at=petition.closes_at,
        version=VersionPublic(number=petition.version, content_hash=petition.content_hash),
        verified_count=verified,
        progress=min(1.0, verified / petition.goal) if petition.goal > 0 else 0.0,
    )


def list_petitions(
    session: Session, page: PageParams, lang: str | None = None
) -> tuple[list[PetitionPublic], str | None]:
    statement = select(Petition).where(Petition.status != PetitionStatus.draft.value)
    rows, cursor = paginate(
        session,
        statement,
        [Petition.id],
        page,
        key=lambda p: (p.id,),
    )
    counts = verified_counts(session, [p.id for p in rows if p.id is not None])
    return [_public(p, counts.get(p.id or 0, 0), lang) for p in rows], cursor


def get_petition(session: Session, slug: str, lang: str | None = None) -> PetitionPublic:
    """The petition in `lang` if it has that text, else in English (`language` says which)."""
    petition = _published_petition(session, slug)
    assert petition.id is not None
    verified = verified_counts(session, [petition.id]).get(petition.id, 0)
    return _public(petition, verified, lang)


# --- counts -------------------------------------------------------------------------------


def verified_counts(session: Session, petition_ids: Sequence[int]) -> dict[int, int]:
    """Sum of each petition's COUNT_SHARDS counter rows: O(1) in the number of signatures."""
    statement = (
        select(CountShard.petition_id, func.sum(CountShard.confirmed))
        .where(col(CountShard.petition_id).in_(list(petition_ids)))
        .group_by(col(CountShard.petition_id))
    )
    return {petition_id: int(total or 0) for petition_id, total in session.exec(statement)}


def get_count(session: Session, slug: str) -> CountPublic:
    petition = _published_petition(session, slug)
    assert petition.id is not None
    verified = verified_counts(session, [petition.id]).get(petition.id, 0)
    return CountPublic(verified=verified, goal=petition.goal, updated_at=utcnow())


def _add_to_count(session: Session, petition_id: int, delta: int) -> None:
    # A random shard: concurrent confirmations rarely touch the same row. One shard per
    # transaction: a group-committed transaction confirms for many requests, and two that each
    # locked several shards in random order deadlocked on PostgreSQL (seen in the benchmark).
    shard = session.info.setdefault(
        "count_shard",
        random.randrange(COUNT_SHARDS),  # noqa: S311 (spreading load, not security)
    )
    connection = session.connection()
    connection.execute(
        _count_upsert(connection.dialect.name),
        {"petition_id": petition_id, "shard": shard, "confirmed": delta},
    )


# The statements run once per signature or confirmation are built once per dialect and take
# their values as parameters: building one per request (and its cache key from every value)
# cost more than running it. They are Core statements on the tables, so no ORM objects are
# made or flushed (a profile of signing put the ORM's share near a third of the writer's time).
_DIALECT_INSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


_SIGNATURE = table_of(Signature)
_TOKEN = table_of(SignatureToken)
_PETITION = table_of(Petition)


@functools.cache
def _count_upsert(dialect: str) -> Any:
    table = table_of(CountShard)
    insert = _DIALECT_INSERTS[dialect](table)
    return insert.on_conflict_do_update(
        index_elements=["petition_id", "shard"],
        set_={"confirmed": table.c.confirmed + insert.excluded.confirmed},
    )


@functools.cache
def _signature_insert(dialect: str) -> Any:
    """Inserts a signature unless its email already signed; returns the new id, if any."""
    return (
        _DIALECT_INSERTS[dialect](_SIGNATURE)
        .on_conflict_do_nothing(index_elements=["petition_id", "email_hash"])
        .returning(_SIGNATURE.c.id)
    )


_TOKEN_INSERT = sqlalchemy.insert(_TOKEN)


# --- signing ------------------------------------------------------------------------------


def sign(session: Session, slug: str, data: SignatureCreate, context: SigningContext) -> None:
    """Take a signature, or remind an existing signer; the answer is the same either way.

    One signature per canonical email per petition is enforced by a unique constraint on the
    keyed hash, so concurrent requests cannot create two.
    """
    # Checked with the other fields when the body was read (SignatureCreate); the look-up is
    # cached, so resolving it again for its state and county costs nothing.
    place = resolve_postal_code(data.postal_code, data.country)
    petition = _petition_taking_signatures(session, slug)
    abuse.check_signer(session, data.email, context.client_ip)
    assert petition.id is not None
    if data.website:
        # The honeypot: people never see this field; a bot that fills it gets the usual
        # answer, and nothing is stored or sent.
        return

    email_hash = signer_key(context.secret, data.email)
    connection = session.connection()
    signature_id = connection.execute(
        _signature_insert(connection.dialect.name),
        {
            "petition_id": petition.id,
            "petition_version": petition.version,
            "status": (
                SignatureStatus.held if context.hold_for_review else SignatureStatus.pending
            ).value,
            "email_hash": email_hash,
            "email": data.email,
            "first_name": data.first_name,
            "last_name": data.last_name,
            "postal_code": place.postal_code,
            "country": data.country,
            "state": place.state,
            "county": place.county,
            "comment": data.comment or None,
            "ip_hash": keyed_hash(context.secret, "ip", context.client_ip)
            if context.client_ip
            else None,
            "display_publicly": data.display_publicly,
            "contact_opt_in": data.contact_opt_in,
            "locale": data.locale,
            "referral": data.ref,
            "emails_sent": 1,
            "created_at": utcnow(),
            "confirmed_at": None,
            "withdrawn_at": None,
        },
    ).scalar()
    if signature_id is not None:
        queue_signer_mail(
            session,
            petition,
            signature_id,
            data.email,
            email_hash,
            data.first_name,
            data.locale,
            "confirm",
            context,
        )
        return

    # Columns, not an ORM object: one loaded earlier in this transaction would keep the state
    # it had then, and confirmations update rows with Core statements.
    existing_id, email, first_name, confirmed_at, status = session.execute(
        sqlalchemy.select(
            col(Signature.id),
            col(Signature.email),
            col(Signature.first_name),
            col(Signature.confirmed_at),
            col(Signature.status),
        ).where(col(Signature.petition_id) == petition.id, col(Signature.email_hash) == email_hash)
    ).one()
    assert existing_id is not None
    # Atomic: of many concurrent repeats, only EMAILS_PER_SIGNATURE - 1 win a reminder.
    claimed = session.exec(
        update(Signature)
        .where(
            col(Signature.id) == existing_id,
            col(Signature.emails_sent) < EMAILS_PER_SIGNATURE,
        )
        .values(emails_sent=Signature.emails_sent + 1)
    ).rowcount
    if not claimed or email is None or status == SignatureStatus.struck.value:
        # A struck signature stays struck: no link that could only answer 410. The answer
        # is still the usual 202, so it reveals nothing either.
        return
    # A held signature whose signer confirmed needs nothing more from them either.
    template = "already_signed" if confirmed_at is not None else "confirm"
    queue_signer_mail(
        session,
        petition,
        existing_id,
        email,
        email_hash,
        first_name or "",
        data.locale,
        template,
        context,
    )


def _petition_taking_signatures(session: Session, slug: str) -> Petition:
    """The petition, checked open and not paused. Read once per transaction: with group
    commit one transaction takes the signatures of many requests (profiling showed these two
    queries at a fifth of the signing work)."""
    checked: dict[str, Petition] = session.info.setdefault("petitions_taking_signatures", {})
    petition = checked.get(slug)
    if petition is None:
        petition = _published_petition(session, slug)
        _require_open(petition)
        abuse.check_signing_paused(session, petition.slug)
        checked[slug] = petition
    else:
        _require_open(petition)  # the clock moves on within a transaction
    return petition


def _require_open(petition: Petition) -> None:
    state = signing_state(petition.status, petition.opens_at, petition.closes_at, utcnow())
    if state is SigningState.open:
        return
    if petition.status != PetitionStatus.open:
        raise PetitionNotOpen(
            f"The petition '{petition.slug}' is {petition.status}; it takes no signatures."
        )
    # Not open by its dates: signing_state found the window's edge that was passed.
    verb, when = (
        ("opens", petition.opens_at)
        if state is SigningState.not_yet_open
        else ("closed", petition.closes_at)
    )
    assert when is not None
    raise PetitionNotOpen(f"The petition '{petition.slug}' {verb} at {when.isoformat()}.")


def _lang_query(locale: str) -> str:
    # The pages a link opens speak the language the signer chose, whatever their browser says.
    return "&lang=es" if locale == "es" else ""


def _about_url(context: SigningContext, locale: str) -> str:
    """The page naming the organiser, the contact and the privacy notice (emails' footer)."""
    return f"{context.public_base_url}/about" + ("?lang=es" if locale == "es" else "")


def queue_signer_mail(
    session: Session,
    petition: Petition,
    signature_id: int,
    email: str,
    email_hash: str,
    first_name: str,
    locale: str,
    template: str,
    context: SigningContext,
) -> None:
    """Queue a mail about one signature with a fresh withdraw link and, for the templates that
    ask to confirm, a fresh confirm link."""
    if mail.recipient_capped(session, email_hash, context.recipient_limit):
        return  # no mail, and so no links to make
    now = utcnow()
    payload: dict[str, Any] = {
        "first_name": first_name,
        # The title in the signer's language: a Spanish subject must not switch to English.
        "petition_title": petition_text(petition, locale).title,
        "about_url": _about_url(context, locale),
    }
    tokens: list[dict[str, Any]] = []
    if template in CONFIRMING_TEMPLATES:
        confirm_token, confirm_hash = new_token()
        tokens.append(
            _token_row(
                confirm_hash,
                signature_id,
                TokenPurpose.confirm,
                now,
                expires_at=now + CONFIRM_TOKEN_LIFETIME,
            )
        )
        payload["confirm_url"] = (
            f"{context.public_base_url}/confirm?token={confirm_token}{_lang_query(locale)}"
        )
    withdraw_token, withdraw_hash = new_token()
    tokens.append(_token_row(withdraw_hash, signature_id, TokenPurpose.withdraw, now))
    session.connection().execute(_TOKEN_INSERT, tokens)
    payload["withdraw_url"] = (
        f"{context.public_base_url}/withdraw?token={withdraw_token}{_lang_query(locale)}"
    )
    mail.enqueue(
        session,
        template=template,
        locale=locale,
        to_address=email,
        payload=payload,
        signature_id=signature_id,
        recipient_hash=email_hash,
    )


def _token_row(
    digest: str,
    signature_id: int,
    purpose: TokenPurpose,
    now: dt.datetime,
    *,
    expires_at: dt.datetime | None = None,
) -> dict[str, Any]:
    return {
        "token_hash": digest,
        "signature_id": signature_id,
        "purpose": purpose.value,
        "created_at": now,
        "expires_at": expires_at,
        "used_at": None,
    }


# --- confirmation and withdrawal ----------------------------------------------------------


_LINK = (
    sqlalchemy.select(
        _TOKEN.c.token_hash,
        _TOKEN.c.purpose,
        _TOKEN.c.expires_at,
        _TOKEN.c.used_at,
        _SIGNATURE.c.id.label("signature_id"),
        _SIGNATURE.c.status,
        _SIGNATURE.c.confirmed_at,
        _SIGNATURE.c.petition_id,
        _PETITION.c.slug,
    )
    .join_from(_TOKEN, _SIGNATURE, _SIGNATURE.c.id == _TOKEN.c.signature_id)
    .join(_PETITION, _PETITION.c.id == _SIGNATURE.c.petition_id)
    .where(_TOKEN.c.token_hash == sqlalchemy.bindparam("digest"))
)
_CONFIRM_PENDING = (
    sqlalchemy.update(_SIGNATURE)
    .where(
        _SIGNATURE.c.id == sqlalchemy.bindparam("signature_id"),
        _SIGNATURE.c.status == SignatureStatus.pending.value,
    )
    .values(
        status=SignatureStatus.confirmed.value,
        confirmed_at=sqlalchemy.bindparam("now", type_=UtcDateTime),
    )
)
_CONFIRM_HELD = (
    sqlalchemy.update(_SIGNATURE)
    .where(
        _SIGNATURE.c.id == sqlalchemy.bindparam("signature_id"),
        _SIGNATURE.c.status == SignatureStatus.held.value,
        _SIGNATURE.c.confirmed_at.is_(None),
    )
    .values(confirmed_at=sqlalchemy.bindparam("now", type_=UtcDateTime))
)
_MARK_TOKEN_USED = (
    sqlalchemy.update(_TOKEN)
    .where(_TOKEN.c.token_hash == sqlalchemy.bindparam("digest"))
    .values(used_at=sqlalchemy.bindparam("now", type_=UtcDateTime))
)


def _link(session: Session, token: str, purpose: TokenPurpose) -> Any:
    """The emailed link's token with its signature's id, status and petition (one query)."""
    link = session.connection().execute(_LINK, {"digest": token_hash(token)}).first()
    if link is None or link.purpose != purpose.value:
        raise NotFound("This link is not known. Check that it was copied whole.")
    return link


def confirm(session: Session, token: str) -> ConfirmResult:
    """Count a pending signature. Confirming twice is harmless. A held signature is marked
    confirmed (`confirmed_at`) but counts only once staff release it."""
    link = _link(session, token, TokenPurpose.confirm)
    slug = link.slug
    held = link.status == SignatureStatus.held.value
    if link.status == SignatureStatus.confirmed.value or (held and link.confirmed_at):
        return ConfirmResult(status="already_confirmed", petition_slug=slug)
    if link.status != SignatureStatus.pending.value and not held:
        raise Gone("This signature was withdrawn or removed; the link no longer works.")
    now = utcnow()
    if link.used_at is not None or (link.expires_at is not None and link.expires_at <= now):
        raise Gone("This confirmation link has expired. Sign again to get a new one.")
    connection = session.connection()
    # Only one of several concurrent confirmations moves it from pending, so it counts once.
    moved = connection.execute(
        _CONFIRM_HELD if held else _CONFIRM_PENDING,
        {"signature_id": link.signature_id, "now": now},
    ).rowcount
    connection.execute(_MARK_TOKEN_USED, {"digest": link.token_hash, "now": now})
    if not moved:
        return ConfirmResult(status="already_confirmed", petition_slug=slug)
    if held:
        return ConfirmResult(status="held_for_review", petition_slug=slug)
    _add_to_count(session, link.petition_id, +1)
    return ConfirmResult(status="confirmed", petition_slug=slug)


ERASED_FIELDS: dict[str, Any] = {
    "email": None,
    "email_hash": None,
    "first_name": None,
    "last_name": None,
    "postal_code": None,
    "comment": None,
    "ip_hash": None,
    "county": None,
    "display_publicly": False,
    "contact_opt_in": False,
}


def withdraw(session: Session, token: str) -> WithdrawResult:
    """Take a signature out of every count and erase its personal data, keeping an anonymous
    record (petition, version, state, country, times)."""
    link = _link(session, token, TokenPurpose.withdraw)
    withdrawn = _withdraw_signature(
        session, link.signature_id, link.status, link.petition_id, keep_token=link.token_hash
    )
    return WithdrawResult(
        status="withdrawn" if withdrawn else "already_withdrawn", petition_slug=link.slug
    )


def _withdraw_signature(
    session: Session, signature_id: int, status: str, petition_id: int, keep_token: str | None
) -> bool:
    """Withdraw and erase; False if it was already withdrawn."""
    if status == SignatureStatus.withdrawn.value:
        return False
    if status == SignatureStatus.struck.value:
        raise Gone("This signature was removed by moderators; there is nothing to withdraw.")
    now = utcnow()
    _erase_idempotency_records(
        session, select(Signature.email_hash).where(col(Signature.id) == signature_id)
    )
    for moving_from in (SignatureStatus.confirmed, SignatureStatus.pending, SignatureStatus.held):
        moved = session.exec(
            update(Signature)
            .where(col(Signature.id) == signature_id, col(Signature.status) == moving_from.value)
            .values(status=SignatureStatus.withdrawn.value, withdrawn_at=now, **ERASED_FIELDS)
        ).rowcount
        if moved:
            if moving_from is SignatureStatus.confirmed:
                _add_to_count(session, petition_id, -1)
            break
    else:
        return False  # a concurrent withdrawal won
    # Keep only the link used, so clicking it again says "already withdrawn".
    session.exec(
        delete(SignatureToken).where(
            col(SignatureToken.signature_id) == signature_id,
            col(SignatureToken.token_hash) != (keep_token or ""),
        )
    )
    if keep_token is not None:
        session.connection().execute(_MARK_TOKEN_USED, {"digest": keep_token, "now": now})
    mail.erase_for_signature(session, signature_id)
    return True


def _erase_idempotency_records(session: Session, email_hashes: Any) -> None:
    """Stored answers to requests made for these signers go with their personal data."""
    session.exec(
        delete(IdempotencyRecord).where(col(IdempotencyRecord.subject_hash).in_(email_hashes))
    )


# --- self-service: a signer sees and withdraws their own signatures --------------------------

ACCESS_TOKEN_LIFETIME = dt.timedelta(hours=24)


def signer_key(secret: bytes, email: str) -> str:
    """The keyed hash of an address's canonical form: what signatures, access links, the
    per-recipient mail cap and idempotency records know a signer by."""
    return keyed_hash(secret, "email", canonical_email(email))


def request_access(session: Session, email: str, locale: str, context: SigningContext) -> None:
    """Queue an access mail for the address, known or not; the worker sends it only if the
    address has signatures (`prepare_claimed_mail`). So the request does the same work, and
    takes the same time, whether or not the address signed."""
    email_hash = signer_key(context.secret, email)
    if mail.recipient_capped(session, email_hash, context.recipient_limit):
        return
    mail.enqueue(
        session,
        template="access",
        locale=locale,
        to_address=email,
        # The link is made by the worker, to the site that took the request.
        payload={"link_base": context.public_base_url, "about_url": _about_url(context, locale)},
        recipient_hash=email_hash,
    )


def prepare_claimed_mail(
    session: Session, claimed: list[mail.ClaimedMail], public_base_url: str
) -> list[mail.ClaimedMail]:
    """For the worker, in its claim transaction: an access mail gets its link if the address
    has signatures, and is dropped if not. The link is kept in the row, so a re-send after a
    crash carries the same one."""
    ready: list[mail.ClaimedMail] = []
    nothing_to_send: list[int] = []
    for claimed_mail in claimed:
        if claimed_mail.template != "access" or "access_url" in claimed_mail.payload:
            ready.append(claimed_mail)
            continue
        email_hash = claimed_mail.recipient_hash
        known = (
            email_hash is not None
            and session.exec(
                select(Signature.id).where(
                    Signature.email_hash == email_hash,
                    col(Signature.status).in_(LIVE_STATUSES),
                )
            ).first()
        )
        if not known or email_hash is None:
            nothing_to_send.append(claimed_mail.id)
            continue
        token, digest = new_token()
        session.add(
            AccessToken(
                token_hash=digest,
                email_hash=email_hash,
                expires_at=utcnow() + ACCESS_TOKEN_LIFETIME,
            )
        )
        base = claimed_mail.payload.get("link_base", public_base_url)
        payload = {
            **claimed_mail.payload,
            "access_url": f"{base}/my-signatures?token={token}{_lang_query(claimed_mail.locale)}",
        }
        mail.set_payload(session, claimed_mail.id, payload)
        ready.append(dataclasses.replace(claimed_mail, payload=payload))
    mail.mark_skipped(session, nothing_to_send)
    return ready


def access_holder(session: Session, token: str) -> str:
    """The email hash an access link was mailed for."""
    access = session.get(AccessToken, token_hash(token))
    if access is None:
        raise NotFound("This link is not known. Check that it was copied whole.")
    if access.expires_at <= utcnow():
        raise Gone("This link has expired. Ask for a new one.")
    return access.email_hash


def signatures_of(session: Session, email_hash: str) -> MySignatures:
    """A signer's pending and confirmed signatures (see `access_holder`)."""
    rows = session.exec(
        select(Signature, Petition)
        .join(Petition, col(Petition.id) == col(Signature.petition_id))
        .where(
            Signature.email_hash == email_hash,
            col(Signature.status).in_(LIVE_STATUSES),
        )
        .order_by(col(Signature.created_at))
    ).all()
    return MySignatures(
        signatures=[
            MySignature(
                petition_slug=petition.slug,
                petition_title=petition_text(petition, signature.locale).title,
                status="confirmed"
                if signature.status == SignatureStatus.confirmed.value
                else "pending",
                signed_at=signature.created_at,
            )
            for signature, petition in rows
        ]
    )


def withdraw_mine(session: Session, token: str, slug: str) -> WithdrawResult:
    email_hash = access_holder(session, token)
    signature = session.exec(
        select(Signature)
        .join(Petition, col(Petition.id) == col(Signature.petition_id))
        .where(Signature.email_hash == email_hash, Petition.slug == slug)
    ).first()
    if signature is None:
        raise NotFound(f"No signature of yours on '{slug}'.")
    assert signature.id is not None
    withdrawn = _withdraw_signature(
        session, signature.id, signature.status, signature.petition_id, keep_token=None
    )
    return WithdrawResult(
        status="withdrawn" if withdrawn else "already_withdrawn", petition_slug=slug
    )


# --- retention ------------------------------------------------------------------------------


def anonymize_closed(session: Session, retention_days: int) -> int:
    """Erase personal data of signatures on petitions closed more than `retention_days` ago.

    Statuses stay as they are, so counts and stats are unchanged. Returns how many signatures
    were erased.
    """
    cutoff = utcnow() - dt.timedelta(days=retention_days)
    closed = select(Petition.id).where(
        Petition.status == PetitionStatus.closed.value,
        col(Petition.closed_at).is_not(None),
        col(Petition.closed_at) < cutoff,
    )
    erased = {k: v for k, v in ERASED_FIELDS.items() if k not in ("display_publicly",)}
    _erase_idempotency_records(
        session,
        select(Signature.email_hash).where(
            col(Signature.petition_id).in_(closed), col(Signature.email_hash).is_not(None)
        ),
    )
    result = session.exec(
        update(Signature)
        .where(col(Signature.petition_id).in_(closed), col(Signature.email_hash).is_not(None))
        .values(**erased)
    )
    session.exec(
        delete(SignatureToken).where(
            col(SignatureToken.signature_id).in_(
                select(Signature.id).where(col(Signature.petition_id).in_(closed))
            )
        )
    )
    now = utcnow()
    session.exec(delete(AccessToken).where(col(AccessToken.expires_at) <= now))
    session.exec(delete(IdempotencyRecord).where(col(IdempotencyRecord.expires_at) <= now))
    return int(result.rowcount or 0)


# --- stats and the public list ------------------------------------------------------------


def stats(session: Session, slug: str) -> PetitionStats:
    petition = _published_petition(session, slug)
    confirmed = (
        Signature.petition_id == petition.id,
        Signature.status == SignatureStatus.confirmed.value,
    )
    by_state = session.exec(
        select(Signature.state, func.count())
        .where(*confirmed, Signature.country == "US", col(Signature.state).is_not(None))
        .group_by(col(Signature.state))
        .order_by(func.count().desc(), col(Signature.state))
    ).all()
    by_county = session.exec(
        select(Signature.county, func.count())
        .where(*confirmed, Signature.state == "FL", col(Signature.county).is_not(None))
        .group_by(col(Signature.county))
        .order_by(func.count().desc(), col(Signature.county))
    ).all()
    day = func.date(Signature.confirmed_at)
    by_day = session.exec(
        select(day, func.count()).where(*confirmed).group_by(day).order_by(day)
    ).all()
    return PetitionStats(
        by_state=[StatBucket(key=str(k), count=n) for k, n in by_state],
        by_florida_county=[StatBucket(key=str(k), count=n) for k, n in by_county],
        by_day=[StatBucket(key=str(k), count=n) for k, n in by_day],
        updated_at=utcnow(),
    )


def recent_signatures(
    session: Session, slug: str, page: PageParams
) -> tuple[list[RecentSignature], str | None]:
    petition = _published_petition(session, slug)
    statement = select(Signature).where(
        Signature.petition_id == petition.id,
        Signature.status == SignatureStatus.confirmed.value,
        col(Signature.display_publicly).is_(True),
    )
    rows, cursor = paginate(
        session,
        statement,
        [Signature.confirmed_at, Signature.id],
        page,
        key=lambda s: (s.confirmed_at, s.id),
        descending=True,
    )
    return [
        RecentSignature(
            first_name=s.first_name or "",
            last_initial=(s.last_name or "?")[0].upper(),
            place=_place(s),
            comment=s.comment,
            signed_at=s.confirmed_at or s.created_at,
        )
        for s in rows
    ], cursor


def referral_counts(session: Session, slug: str) -> list[ReferralCount]:
    """Confirmed signers by the share channel that brought them: only totals, never who.
    For staff: drafts included."""
    petition = petition_by_slug(session, slug)
    rows = session.exec(
        select(Signature.referral, func.count())
        .where(
            Signature.petition_id == petition.id,
            Signature.status == SignatureStatus.confirmed.value,
        )
        .group_by(col(Signature.referral))
    ).all()
    # Most first, then by name, "no channel" last: the same on every database (they sort NULL
    # differently).
    counts = [ReferralCount(channel=channel, confirmed=n) for channel, n in rows]
    return sorted(counts, key=lambda c: (-c.confirmed, c.channel is None, c.channel or ""))


def _place(signature: Signature) -> str | None:
    if signature.country != "US":
        return signature.country
    if signature.county and signature.state:
        return f"{signature.county}, {signature.state}"
    return signature.state


# --- staff: editing petitions, moderating signatures (the admin API) -----------------------


def petition_by_slug(session: Session, slug: str, *, for_update: bool = False) -> Petition:
    """Any petition, drafts included. `for_update` locks its row (PostgreSQL) so concurrent
    edits take turns instead of both making version N+1."""
    statement = select(Petition).where(Petition.slug == slug)
    if for_update:
        statement = statement.with_for_update()
    petition = session.exec(statement).first()
    if petition is None:
        raise NotFound(f"No petition with slug '{slug}'.")
    return petition


def list_all_petitions(session: Session, page: PageParams) -> tuple[list[Petition], str | None]:
    return paginate(session, select(Petition), [Petition.id], page, key=lambda p: (p.id,))


def petition_versions(session: Session, petition_id: int) -> list[PetitionVersion]:
    return list(
        session.exec(
            select(PetitionVersion)
            .where(PetitionVersion.petition_id == petition_id)
            .order_by(col(PetitionVersion.number))
        ).all()
    )


def petitions_citing_fact(session: Session, fact_id: str) -> list[str]:
    """Slugs of petitions whose text refers to `[fact:ID]`."""
    marker = f"%[fact:{fact_id}]%"
    return list(
        session.exec(
            select(Petition.slug).where(
                or_(
                    col(Petition.body).like(marker),
                    sqlalchemy.cast(col(Petition.translations), sqlalchemy.Text).like(marker),
                )
            )
        ).all()
    )


def update_petition(session: Session, petition: Petition, changes: dict[str, Any]) -> bool:
    """Apply `changes`; a change to the text (title, ask, target, body) makes a new version
    with a new content hash. Signatures already taken keep the version their signer saw.
    Returns whether a new version was made."""
    text_changed = any(
        name in changes and changes[name] != getattr(petition, name)
        for name in (*TEXT_FIELDS, "translations")
    )
    for name, value in changes.items():
        setattr(petition, name, value)
    if text_changed:
        petition.version += 1
        petition.content_hash = _hash_of(petition)
        _new_version(session, petition)
    petition.updated_at = utcnow()
    session.add(petition)
    session.flush()
    return text_changed


def set_petition_text(
    session: Session, petition: Petition, lang: str, text: dict[str, str] | None
) -> bool:
    """Set (or, with None, remove) the petition's text in one language; English is the
    petition's own columns and cannot be removed. Returns whether a new version was made."""
    if lang == DEFAULT_TEXT_LANGUAGE:
        if text is None:
            raise Conflict("The English text is required; it can be changed, not removed.")
        return update_petition(session, petition, text)
    translations = {k: v for k, v in petition.translations.items() if k != lang}
    if text is not None:
        translations[lang] = {name: text[name] for name in TEXT_FIELDS}
    elif lang not in petition.translations:
        raise NotFound(f"The petition '{petition.slug}' has no text in '{lang}'.")
    return update_petition(session, petition, {"translations": translations})


def open_petition(session: Session, petition: Petition) -> None:
    """Draft or closed -> open."""
    if petition.status == PetitionStatus.open.value:
        raise Conflict(f"The petition '{petition.slug}' is already open.")
    if petition.closes_at is not None and petition.closes_at <= utcnow():
        raise Conflict(
            f"The petition '{petition.slug}' has closes_at {petition.closes_at.isoformat()}, "
            "in the past; change closes_at first."
        )
    petition.status = PetitionStatus.open.value
    petition.closed_at = None
    petition.updated_at = utcnow()
    session.add(petition)
    session.flush()


def close_petition(session: Session, petition: Petition) -> None:
    """Open -> closed. Retention (`advocacy anonymize`) counts from `closed_at`."""
    if petition.status != PetitionStatus.open.value:
        raise Conflict(
            f"The petition '{petition.slug}' is {petition.status}; only open ones close."
        )
    now = utcnow()
    petition.status = PetitionStatus.closed.value
    petition.closed_at = now
    petition.updated_at = now
    session.add(petition)
    session.flush()


@dataclass(frozen=True)
class SignatureFilters:
    """Criteria combined with AND. `email_hash` is the keyed hash of the canonical email."""

    signature_id: int | None = None
    petition_id: int | None = None
    status: SignatureStatus | None = None
    signed_from: dt.datetime | None = None  # inclusive, on created_at
    signed_to: dt.datetime | None = None  # exclusive
    email_hash: str | None = None
    email_domain: str | None = None
    ip_hash: str | None = None
    postal_code: str | None = None


def _signature_conditions(filters: SignatureFilters) -> list[Any]:
    conditions: list[Any] = []
    if filters.signature_id is not None:
        conditions.append(col(Signature.id) == filters.signature_id)
    if filters.petition_id is not None:
        conditions.append(col(Signature.petition_id) == filters.petition_id)
    if filters.status is not None:
        conditions.append(col(Signature.status) == filters.status.value)
    if filters.signed_from is not None:
        conditions.append(col(Signature.created_at) >= filters.signed_from)
    if filters.signed_to is not None:
        conditions.append(col(Signature.created_at) < filters.signed_to)
    if filters.email_hash is not None:
        conditions.append(col(Signature.email_hash) == filters.email_hash)
    if filters.email_domain is not None:
        escaped = filters.email_domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(func.lower(col(Signature.email)).like(f"%@{escaped}", escape="\\"))
    if filters.ip_hash is not None:
        conditions.append(col(Signature.ip_hash) == filters.ip_hash)
    if filters.postal_code is not None:
        # A ZIP matches its ZIP+4 forms too.
        conditions.append(
            or_(
                col(Signature.postal_code) == filters.postal_code,
                col(Signature.postal_code).startswith(filters.postal_code + "-", autoescape=True),
            )
        )
    return conditions


def search_signatures(
    session: Session, filters: SignatureFilters, page: PageParams
) -> tuple[list[Signature], str | None]:
    """Newest first."""
    statement = select(Signature).where(*_signature_conditions(filters))
    return paginate(
        session, statement, [Signature.id], page, key=lambda s: (s.id,), descending=True
    )


def get_signature(session: Session, signature_id: int) -> Signature:
    signature = session.get(Signature, signature_id)
    if signature is None:
        raise NotFound(f"No signature with id {signature_id}.")
    return signature


STRIKABLE = (SignatureStatus.pending, SignatureStatus.held, SignatureStatus.confirmed)


def count_strikable(session: Session, filters: SignatureFilters) -> dict[str, int]:
    """How many signatures a strike with `filters` would take, by their current status."""
    rows = session.exec(
        select(Signature.status, func.count())
        .where(
            *_signature_conditions(filters),
            col(Signature.status).in_([s.value for s in STRIKABLE]),
        )
        .group_by(col(Signature.status))
    ).all()
    counts = {status.value: 0 for status in STRIKABLE}
    counts.update({status: int(n) for status, n in rows})
    return counts


@dataclass
class StrikeOutcome:
    signature_ids: list[int]
    by_status: dict[str, int]  # how many were pending / confirmed before the strike


def strike_signatures(session: Session, filters: SignatureFilters) -> StrikeOutcome:
    """Mark matching pending and confirmed signatures `struck`: they leave every count (a
    confirmed one comes off its petition's sharded count), and the signer can neither confirm
    nor sign that petition again with the same email. Personal data stays, for review, until
    retention erases it.

    Bulk UPDATE ... RETURNING, so each row moves exactly once even if it is being confirmed
    at the same moment: pending ones first, then confirmed ones, so a signature confirmed in
    between is caught by the second statement and uncounted.
    """
    conditions = _signature_conditions(filters)
    outcome = StrikeOutcome(signature_ids=[], by_status={s.value: 0 for s in STRIKABLE})
    uncount: dict[int, int] = {}
    for status in STRIKABLE:
        moved = session.exec(
            update(Signature)
            .where(*conditions, col(Signature.status) == status.value)
            .values(status=SignatureStatus.struck.value)
            .returning(col(Signature.id), col(Signature.petition_id))
            .execution_options(synchronize_session="fetch")
        ).all()
        outcome.by_status[status.value] = len(moved)
        for signature_id, petition_id in moved:
            outcome.signature_ids.append(signature_id)
            if status is SignatureStatus.confirmed:
                uncount[petition_id] = uncount.get(petition_id, 0) + 1
    for petition_id, n in uncount.items():
        _add_to_count(session, petition_id, -n)
    outcome.signature_ids.sort()
    return outcome


@dataclass
class ReleaseOutcome:
    signature_ids: list[int]
    counted: int  # of those, confirmed by their signers: they now count


def release_signatures(session: Session, filters: SignatureFilters) -> ReleaseOutcome:
    """Release matching held signatures: one its signer confirmed becomes `confirmed` and
    counts; one not confirmed yet becomes `pending` and counts when it is.

    The unconfirmed ones move first: a signer confirming in between leaves theirs held with
    `confirmed_at` set, which the second statement then releases and counts.
    """
    conditions = [
        *_signature_conditions(filters),
        col(Signature.status) == SignatureStatus.held.value,
    ]
    unconfirmed = session.exec(
        update(Signature)
        .where(*conditions, col(Signature.confirmed_at).is_(None))
        .values(status=SignatureStatus.pending.value)
        .returning(col(Signature.id))
        .execution_options(synchronize_session="fetch")
    ).all()
    confirmed = session.exec(
        update(Signature)
        .where(*conditions, col(Signature.confirmed_at).is_not(None))
        .values(status=SignatureStatus.confirmed.value)
        .returning(col(Signature.id), col(Signature.petition_id))
        .execution_options(synchronize_session="fetch")
    ).all()
    counted: dict[int, int] = {}
    for _, petition_id in confirmed:
        counted[petition_id] = counted.get(petition_id, 0) + 1
    for petition_id, n in counted.items():
        _add_to_count(session, petition_id, n)
    ids = sorted([row[0] for row in unconfirmed] + [row[0] for row in confirmed])
    return ReleaseOutcome(signature_ids=ids, counted=len(confirmed))


def count_held(session: Session, filters: SignatureFilters) -> tuple[int, int]:
    """How many held signatures match `filters`, and how many of them are confirmed."""
    rows = session.exec(
        select(col(Signature.confirmed_at).is_not(None), func.count())
        .where(*_signature_conditions(filters), col(Signature.status) == SignatureStatus.held.value)
        .group_by(col(Signature.confirmed_at).is_not(None))
    ).all()
    by_confirmed = {bool(confirmed): int(n) for confirmed, n in rows}
    return sum(by_confirmed.values()), by_confirmed.get(True, 0)


def confirmed_signatures_query(petition_id: int) -> Any:
    """Columns a delivery export carries, oldest confirmation first. Run it with `yield_per`
    so rows stream from a server-side cursor in batches."""
    # SQLAlchemy's select: SQLModel's is typed for at most four columns.
    return (
        sqlalchemy.select(
            col(Signature.first_name),
            col(Signature.last_name),
            col(Signature.county),
            col(Signature.state),
            col(Signature.postal_code),
            col(Signature.country),
            col(Signature.confirmed_at),
            col(Signature.email),
        )
        .where(
            col(Signature.petition_id) == petition_id,
            col(Signature.status) == SignatureStatus.confirmed.value,
        )
        .order_by(col(Signature.confirmed_at), col(Signature.id))
    )
