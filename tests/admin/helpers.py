"""Keys, seeded ids and direct inserts for the admin tests."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, insert
from sqlmodel import select

from api.admin.auth import create_api_key, revoke_api_key
from api.admin.models import Scope
from api.db import Database, utcnow
from api.petitions import catalog, counts
from api.petitions.catalog import NewPetition
from api.petitions.models import Petition, PetitionStatus, Signature
from tests.petitions.helpers import SLUG

ALL_SCOPES = [s.value for s in Scope]
SOURCE_ID = "article-cable-ties-tweet"  # seeded, without its text
QUOTE = {
    "source_id": SOURCE_ID,
    "quote": "School employees tell him that Kaia is six.",
    "start": 1936,
    "end": 1979,
}
FACT_WITH_THREE_CITATIONS = "kaia-age-six"
DISCREPANCY_ID = "staff-struck-how-many-and-how"


def make_key(database: Database, *scopes: str, revoked: bool = False, name: str = "") -> str:
    """A key's secret. No scopes given: every scope."""
    with database.session(write=True) as session:
        key, secret = create_api_key(
            session, name or f"test-{utcnow().timestamp()}", scopes or ALL_SCOPES
        )
        if revoked:
            revoke_api_key(session, str(key.id))
    return secret


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def petition_id(database: Database, slug: str = SLUG) -> int:
    with database.session() as session:
        return session.exec(select(Petition.id).where(Petition.slug == slug)).one() or 0


def create_draft(database: Database, slug: str = "a-draft") -> str:
    with database.session(write=True) as session:
        catalog.create_petition(
            session,
            NewPetition(
                slug=slug,
                title="A draft",
                ask="Ask",
                target="Someone",
                body="Body",
                goal=100,
                status=PetitionStatus.draft,
            ),
        )
    return slug


def insert_signatures(
    database: Database, count: int, *, slug: str = SLUG, status: str = "confirmed", **fields: Any
) -> list[int]:
    """Signatures written straight to the table (fast; confirmed ones are added to the count)."""
    pid = petition_id(database, slug)
    now = utcnow()
    rows = []
    for i in range(count):
        row: dict[str, Any] = {
            "petition_id": pid,
            "petition_version": 1,
            "status": status,
            "email_hash": uuid.uuid4().hex * 2 if status in ("pending", "confirmed") else None,
            "email": f"signer{i}@example.org",
            "first_name": "Signer",
            "last_name": f"Number{i}",
            "postal_code": "32801",
            "county": "Orange County",
            "state": "FL",
            "country": "US",
            "created_at": now - dt.timedelta(minutes=5),
            "confirmed_at": now - dt.timedelta(seconds=count - i)
            if status == "confirmed"
            else None,
        }
        row.update(fields)
        rows.append(row)
    with database.session(write=True) as session:
        first = session.exec(select(func.max(Signature.id))).one() or 0
        session.execute(insert(Signature), rows)
        if status == "confirmed":
            counts.add_to_count(session, pid, count)
        ids = list(
            session.exec(select(Signature.id).where(Signature.id > first).order_by(Signature.id))
        )
    return [i for i in ids if i is not None]
