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
from api.mail.models import MailMessage
from api.petitions.models import CountShard, Petition, PetitionVersion, Signature, SignatureToken

__all__ = [
    "Citation",
    "CountShard",
    "Discrepancy",
    "DiscrepancyFact",
    "DiscrepancyVersion",
    "Fact",
    "Incident",
    "MailMessage",
    "Petition",
    "PetitionVersion",
    "Signature",
    "SignatureToken",
    "Source",
]
