"""Self-service: a signer asks for an access link by mail, then sees and withdraws their own
signatures through it."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlmodel import Session, col, select

from api.abuse.models import AccessToken
from api.db import utcnow
from api.errors import Gone, NotFound
from api.mail import links
from api.mail import service as mail
from api.petitions.catalog import petition_text
from api.petitions.confirmation import withdraw_signature
from api.petitions.models import Petition, Signature, SignatureStatus
from api.petitions.schemas import MySignature, MySignatures, WithdrawResult
from api.petitions.signing import SigningContext, signer_key
from api.security import new_token, token_hash

ACCESS_TOKEN_LIFETIME = dt.timedelta(hours=24)


# A signer's own signatures that are still standing (not withdrawn or struck).
LIVE_STATUSES = [SignatureStatus.pending, SignatureStatus.confirmed, SignatureStatus.held]


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
        payload={
            "link_base": context.public_base_url,
            "about_url": links.about_url(context.public_base_url, locale),
        },
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
            "access_url": links.access_url(base, token, claimed_mail.locale),
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
                status="confirmed" if signature.status == SignatureStatus.confirmed else "pending",
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
    withdrawn = withdraw_signature(session, signature.id, signature.petition_id, keep_token=None)
    return WithdrawResult(
        status="withdrawn" if withdrawn else "already_withdrawn", petition_slug=slug
    )
