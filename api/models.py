"""Every table model, imported in one place so Alembic and tests see the whole schema."""

from api.abuse.models import (
    AccessToken,
    BlockedEmailDomain,
    BlockedIpRange,
    IdempotencyRecord,
    SigningPause,
)
from api.admin.models import ApiKey, AuditEntry
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
    "AccessToken",
    "ApiKey",
    "AuditEntry",
    "BlockedEmailDomain",
    "BlockedIpRange",
    "Citation",
    "CountShard",
    "Discrepancy",
    "DiscrepancyFact",
    "DiscrepancyVersion",
    "Fact",
    "IdempotencyRecord",
    "Incident",
    "MailMessage",
    "Petition",
    "PetitionVersion",
    "Signature",
    "SignatureToken",
    "SigningPause",
    "Source",
]
