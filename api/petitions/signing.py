"""Taking a signature (the hot path) and mailing its signer the confirm and withdraw links."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy
from sqlalchemy import update
from sqlmodel import Session, col

from api.abuse import service as abuse
from api.batchwork import Batchable
from api.db import table_of, utcnow
from api.errors import AppError
from api.mail import service as mail
from api.petitions.letters import Letter, LinkTokens, queue_letters
from api.petitions.models import (
    Signature,
    SignatureStatus,
)
from api.petitions.schemas import SignatureCreate
from api.petitions.taking import PetitionTakingSignatures, petition_taking_signatures, title_of
from api.petitions.validation import PostalPlace, canonical_email, resolve_postal_code
from api.rowinsert import RowInsert
from api.security import keyed_hash

EMAILS_PER_SIGNATURE = 3  # the confirmation and at most two reminders, however often one signs


@dataclass(frozen=True)
class SigningContext:
    """What the service needs from the request and the settings to take a signature."""

    secret: bytes
    public_base_url: str
    client_ip: str | None
    # The address is past its allowance of accepted signatures: take it, but hold it for review.
    hold_for_review: bool = False
    recipient_limit: mail.RecipientLimit | None = None


def signer_key(secret: bytes, email: str) -> str:
    """The keyed hash of an address's canonical form: what signatures, access links, the
    per-recipient mail cap and idempotency records know a signer by."""
    return keyed_hash(secret, "email", canonical_email(email))


# The statements run once per signature are built once per dialect and take their values as
# parameters: building one per request (and its cache key from every value) cost more than
# running it. They are Core statements on the tables, so no ORM objects are made or flushed
# (a profile of signing put the ORM's share near a third of the writer's time).
_SIGNATURE = table_of(Signature)


_SIGNATURE_INSERT = RowInsert(
    _SIGNATURE,
    [column.name for column in _SIGNATURE.c if column.name not in ("id", "reminded_at")],
    suffix="ON CONFLICT (petition_id, email_hash) DO NOTHING",
    returning=("id", "petition_id", "email_hash"),
)
# On SQLite the ids of the rows written are worked out, not read back
# (_insert_signatures_sqlite says why).
_SQLITE_SIGNATURE_INSERT = RowInsert(
    _SIGNATURE,
    [column.name for column in _SIGNATURE.c if column.name not in ("id", "reminded_at")],
    suffix="ON CONFLICT (petition_id, email_hash) DO NOTHING",
)
_SIGNATURES_WITH_IDS = "SELECT id, petition_id, email_hash FROM signature WHERE id BETWEEN ? AND ?"


def _insert_signatures_sqlite(connection: Any, rows: list[dict[str, Any]]) -> list[Any]:
    """Insert the rows and return (id, petition_id, email_hash) of each one inserted: without
    RETURNING, whose every row is a step of SQLite's that lets go of the GIL, and without a
    statement to learn the ids. Inside the write lock the event loop takes the GIL at each of
    those and holds it for a callback: a batch's RETURNING rows were most of its waits for
    the GIL back, and `SELECT max(id)` (once run to give each row its id) waited ~0.3 ms a
    batch under load for 0.05 ms of work. The rows written have consecutive ids ending at the
    last one's (RowInsert.count_and_last_id). Only when an address had already signed (a row
    skipped) are the ids written read back."""
    count, last = _SQLITE_SIGNATURE_INSERT.count_and_last_id(connection, rows)
    if last is None:
        return []
    if count == len(rows):
        first = last - count + 1
        return [
            (first + offset, row["petition_id"], row["email_hash"])
            for offset, row in enumerate(rows)
        ]
    return list(connection.exec_driver_sql(_SIGNATURES_WITH_IDS, (last - count + 1, last)))


@dataclass(frozen=True)
class SignRequest:
    """One request to sign: what `sign_many` takes for each, with all it needs that the
    database does not decide worked out when the request is made (`SignRequest.of`): the
    keyed hashes, the place, the link tokens. On SQLite the writers of every process take
    turns on one write lock, so what is done before it is not done in everyone's queue."""

    slug: str
    data: SignatureCreate
    context: SigningContext
    email_hash: str
    ip_hash: str | None
    place: PostalPlace
    tokens: LinkTokens

    @classmethod
    def of(cls, slug: str, data: SignatureCreate, context: SigningContext) -> SignRequest:
        # The code was checked with the other fields when the body was read (SignatureCreate);
        # the look-up is cached, so resolving it again for its state and county costs nothing.
        place = resolve_postal_code(data.postal_code, data.country)
        ip = context.client_ip
        return cls(
            slug,
            data,
            context,
            email_hash=signer_key(context.secret, data.email),
            ip_hash=keyed_hash(context.secret, "ip", ip) if ip else None,
            place=place,
            tokens=LinkTokens.new(),
        )


def sign(session: Session, slug: str, data: SignatureCreate, context: SigningContext) -> None:
    """Take a signature, or remind an existing signer; the answer is the same either way.

    One signature per canonical email per petition is enforced by a unique constraint on the
    keyed hash, so concurrent requests cannot create two.
    """
    sign_one(session, SignRequest.of(slug, data, context))


def sign_one(session: Session, request: SignRequest) -> None:
    outcome = sign_many(session, [request])[0]
    if outcome is not None:
        raise outcome


def sign_many(session: Session, requests: list[SignRequest]) -> list[BaseException | None]:
    """`sign` for many requests in one transaction, in order, with one statement per table
    for all of them (group commit hands the signing requests that arrived together here).

    Each request's outcome is its own: None (taken, or a repeat reminded, or the honeypot), or
    the error it alone is answered with, having written nothing. Every check a request can
    fail comes before the first write.
    """
    outcomes: list[BaseException | None] = [None] * len(requests)
    taken: list[_Taken] = []
    now = utcnow()
    recent_mail = _recent_mail_asked(requests)
    for index, request in enumerate(requests):
        data, context = request.data, request.context
        try:
            petition = petition_taking_signatures(session, request.slug, now, recent_mail)
            abuse.check_signer(session, data.email, context.client_ip)
        except AppError as exc:
            outcomes[index] = exc
            continue
        if data.website:
            # The honeypot: people never see this field; a bot that fills it gets the usual
            # answer, and nothing is stored or sent.
            continue
        taken.append(_Taken(request, petition))
    if not taken:
        return outcomes

    connection = session.connection()
    rows = [t.row(now) for t in taken]
    written = (
        _insert_signatures_sqlite(connection, rows)
        if connection.dialect.name == "sqlite"
        else _SIGNATURE_INSERT.execute(connection, rows)
    )
    inserted = {
        (petition_id, email_hash): signature_id for signature_id, petition_id, email_hash in written
    }
    letters: list[Letter] = []
    for t in taken:
        data = t.request.data
        # pop: a second request for one address in the same run is a repeat of the first.
        signature_id = inserted.pop((t.petition.id, t.request.email_hash), None)
        if signature_id is not None:
            letters.append(
                Letter(
                    title_of(session, t.petition, data.locale),
                    signature_id,
                    data.email,
                    t.request.email_hash,
                    data.first_name,
                    data.locale,
                    "confirm",
                    t.request.context.public_base_url,
                    t.request.context.recipient_limit,
                    t.request.tokens,
                )
            )
        else:
            letters += _reminder_of_repeat(session, t)
    queue_letters(session, letters, recent_mail)
    return outcomes


def _recent_mail_asked(requests: list[SignRequest]) -> mail.RecentMail | None:
    """The mail cap's counts for every signer in the run, to be read with the petition (the
    letters are the signers' own: their confirmations, reminders or "already signed")."""
    windows = [
        request.context.recipient_limit.window
        for request in requests
        if request.context.recipient_limit is not None
    ]
    if not windows:
        return None
    return mail.RecentMail(list({request.email_hash for request in requests}), max(windows))


@dataclass(frozen=True)
class _Taken:
    """A request that passed every check: its row is written with the others of its run."""

    request: SignRequest
    petition: PetitionTakingSignatures

    def row(self, now: dt.datetime) -> dict[str, Any]:
        request = self.request
        data, place = request.data, request.place
        return {
            "petition_id": self.petition.id,
            "petition_version": self.petition.version,
            "status": SignatureStatus.held
            if request.context.hold_for_review
            else SignatureStatus.pending,
            "email_hash": request.email_hash,
            "email": data.email,
            "first_name": data.first_name,
            "last_name": data.last_name,
            "postal_code": place.postal_code,
            "country": data.country,
            "state": place.state,
            "county": place.county,
            "comment": data.comment or None,
            "ip_hash": request.ip_hash,
            "display_publicly": data.display_publicly,
            "contact_opt_in": data.contact_opt_in,
            "locale": data.locale,
            "referral": data.ref,
            "emails_sent": 1,
            "created_at": now,
            "confirmed_at": None,
            "withdrawn_at": None,
        }


def _reminder_of_repeat(session: Session, taken: _Taken) -> list[Letter]:
    """The address already signed: a reminder (or an "already signed" mail), within the cap."""
    petition_id = taken.petition.id
    # Columns, not an ORM object: one loaded earlier in this transaction would keep the state
    # it had then, and confirmations update rows with Core statements.
    existing_id, email, first_name, confirmed_at, status = session.execute(
        sqlalchemy.select(
            col(Signature.id),
            col(Signature.email),
            col(Signature.first_name),
            col(Signature.confirmed_at),
            col(Signature.status),
        ).where(
            col(Signature.petition_id) == petition_id,
            col(Signature.email_hash) == taken.request.email_hash,
        )
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
    if not claimed or email is None or status == SignatureStatus.struck:
        # A struck signature stays struck: no link that could only answer 410. The answer
        # is still the usual 202, so it reveals nothing either.
        return []
    # A held signature whose signer confirmed needs nothing more from them either.
    template = "already_signed" if confirmed_at is not None else "confirm"
    return [
        Letter(
            title_of(session, taken.petition, taken.request.data.locale),
            existing_id,
            email,
            taken.request.email_hash,
            first_name or "",
            taken.request.data.locale,
            template,
            taken.request.context.public_base_url,
            taken.request.context.recipient_limit,
            taken.request.tokens,
        )
    ]


SIGNING: Batchable[SignRequest, None] = Batchable("signing", one=sign_one, many=sign_many)
