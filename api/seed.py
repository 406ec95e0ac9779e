"""Load the data files in seed/ into the database."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session

from api.incident.service import load_fact_base
from api.petitions.catalog import load_petitions


def load_seed(session: Session, directory: Path) -> dict[str, int]:
    added = load_fact_base(session, json.loads((directory / "incident.json").read_text()))
    petitions = json.loads((directory / "petitions.json").read_text())
    added["petitions"] = load_petitions(session, petitions)
    return added
