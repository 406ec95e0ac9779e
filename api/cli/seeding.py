"""`advocacy seed`: load the data files in seed/ (incident.json, petitions.json) into the
database, leaving rows that already exist as they are."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from api.incident.models import (
    Citation,
    Discrepancy,
    DiscrepancyFact,
    DiscrepancyKind,
    DiscrepancyVersion,
    Fact,
    FactStatus,
    Incident,
    Precision,
    Source,
)
from api.incident.statuses import refresh_fact_statuses
from api.petitions.catalog import NewPetition, create_petition
from api.petitions.models import Petition, PetitionStatus


def load_seed(session: Session, directory: Path) -> dict[str, int]:
    added = load_fact_base(session, json.loads((directory / "incident.json").read_text()))
    petitions = json.loads((directory / "petitions.json").read_text())
    added["petitions"] = load_petitions(session, petitions)
    return added


def load_fact_base(session: Session, data: dict[str, Any]) -> dict[str, int]:
    """Insert the fact base from seed data, leaving rows that already exist untouched.

    Existing rows are kept so that edits made by campaign staff survive a re-seed; running it
    twice changes nothing. A fact or discrepancy is added with its citations, versions and
    fact links; the unit of work inserts each row after the rows it points at. Returns how many
    rows of each kind were added.
    """
    added: dict[str, int] = defaultdict(int)
    # Every key present, one query a table: the rows are then added and flushed together.
    taken = {
        model: set(session.exec(select(model.id)))
        for model in (Source, Fact, Discrepancy, Incident)
    }

    def is_new(model: type[Any], key: str, kind: str) -> bool:
        if key in taken[model]:
            return False
        taken[model].add(key)
        added[kind] += 1
        return True

    for position, item in enumerate(data["sources"]):
        if is_new(Source, item["id"], "sources"):
            session.add(_source(position, item))
    new_citations = 0
    for position, item in enumerate(data["facts"]):
        if is_new(Fact, item["id"], "facts"):
            session.add(_fact(position, item))
            new_citations += len(item["citations"])
    for position, item in enumerate(data.get("discrepancies", [])):
        if is_new(Discrepancy, item["id"], "discrepancies"):
            session.add(_discrepancy(position, item))
    if new_citations:  # counted after the discrepancies: the order `advocacy seed` reports in
        added["citations"] = new_citations
    incident = data["incident"]
    incident_id = incident.get("id", "incident")
    if is_new(Incident, incident_id, "incident"):
        details = {k: incident[k] for k in ("where", "when", "child", "people", "agencies")}
        session.add(
            Incident(
                id=incident_id,
                title=incident["title"],
                summary=incident["summary"],
                details=details,
            )
        )
    refresh_fact_statuses(session, None)
    return dict(added)


def _source(position: int, item: dict[str, Any]) -> Source:
    return Source(
        id=item["id"],
        position=position,
        title=item.get("title"),
        label=item.get("label"),
        publisher=item.get("publisher"),
        published=_date_or_none(item.get("published")),
        kind=item["kind"],
        language=item["language"],
        content_sha256=item["content_sha256"],
    )


def _fact(position: int, item: dict[str, Any]) -> Fact:
    fact = Fact(
        id=item["id"],
        position=position,
        topic=item["topic"],
        statement=item["statement"],
        status=FactStatus.single_source.value,
        citations=[
            Citation(fact_id=item["id"], position=index, **citation)
            for index, citation in enumerate(item["citations"])
        ],
    )
    occurred = item.get("occurred")
    if occurred:
        fact.set_occurred(
            dt.date.fromisoformat(occurred["date"]),
            Precision(occurred["precision"]),
            bool(occurred["inferred"]),
        )
    return fact


def _discrepancy(position: int, item: dict[str, Any]) -> Discrepancy:
    return Discrepancy(
        id=item["id"],
        position=position,
        kind=DiscrepancyKind(item["kind"]).value,
        about=item["about"],
        versions=[
            DiscrepancyVersion(discrepancy_id=item["id"], position=index, **version)
            for index, version in enumerate(item["versions"])
        ],
        fact_links=[
            DiscrepancyFact(discrepancy_id=item["id"], fact_id=fact_id)
            for fact_id in item.get("fact_ids", [])
        ],
    )


def _date_or_none(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def load_petitions(session: Session, data: dict[str, Any]) -> int:
    """Seed petitions that do not exist yet; existing ones are left as staff keep them."""
    added = 0
    for item in data["petitions"]:
        if session.exec(select(Petition.id).where(Petition.slug == item["slug"])).first():
            continue
        create_petition(session, _seeded_petition(item))
        added += 1
    return added


def _seeded_petition(item: dict[str, Any]) -> NewPetition:
    """An entry of the seed file (times as ISO strings)."""
    return NewPetition(
        slug=item["slug"],
        title=item["title"],
        ask=item["ask"],
        target=item["target"],
        body=item["body"],
        goal=item["goal"],
        status=PetitionStatus(item.get("status", PetitionStatus.draft)),
        milestones=list(item.get("milestones", [])),
        opens_at=_parse_time(item.get("opens_at")),
        closes_at=_parse_time(item.get("closes_at")),
        translations=item.get("translations") or {},
    )


def _parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)
