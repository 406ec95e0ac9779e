"""Every table model, imported in one place so Alembic and tests see the whole schema."""

from api.incident.models import (
    Citation,
    Discrepancy,
    DiscrepancyFact,
    DiscrepancyVersion,
    Fact,
    Incident,
    Source,
)

__all__ = [
    "Citation",
    "Discrepancy",
    "DiscrepancyFact",
    "DiscrepancyVersion",
    "Fact",
    "Incident",
    "Source",
]
