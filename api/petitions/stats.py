"""What confirmed signatures add up to: the public stats and list, referral totals for staff,
and the rows a delivery export carries."""

from __future__ import annotations

from typing import Any

import sqlalchemy
from sqlalchemy import func
from sqlmodel import Session, col, select

from api.db import utcnow
from api.pagination import PageParams, paginate
from api.petitions.catalog import petition_by_slug, published_petition
from api.petitions.models import Signature, SignatureStatus
from api.petitions.schemas import PetitionStats, RecentSignature, ReferralCount, StatBucket


def stats(session: Session, slug: str) -> PetitionStats:
    petition = published_petition(session, slug)
    confirmed = (
        Signature.petition_id == petition.id,
        Signature.status == SignatureStatus.confirmed,
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
    petition = published_petition(session, slug)
    statement = select(Signature).where(
        Signature.petition_id == petition.id,
        Signature.status == SignatureStatus.confirmed,
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
            Signature.status == SignatureStatus.confirmed,
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
            col(Signature.status) == SignatureStatus.confirmed,
        )
        .order_by(col(Signature.confirmed_at), col(Signature.id))
    )
