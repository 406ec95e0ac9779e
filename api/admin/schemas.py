"""The admin API's request and response models (its tables are in api/admin/models.py)."""

from __future__ import annotations

import datetime as dt
import itertools
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict
from pydantic import Field as PydanticField

from api.fields import Slug
from api.incident.admin_schemas import omittable
from api.petitions.models import PetitionStatus
from api.petitions.schemas import VersionPublic

# Below the column's 20,000: any valid request body fits the default body cap (64 KiB) even at
# 4 UTF-8 bytes a character.
PETITION_BODY_MAX = 10_000


# --- shared field types -------------------------------------------------------------------

Reason = Annotated[str, PydanticField(min_length=1, max_length=300)]


def _to_utc(value: dt.datetime) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueError("is out of range") from exc


UtcTime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


# --- petitions ----------------------------------------------------------------------------


def _ascending(values: list[int]) -> list[int]:
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError("must be in ascending order, without repeats")
    return values


# The petition's text, in any language, and its goal.
Title = Annotated[str, PydanticField(min_length=1, max_length=200)]
Ask = Annotated[str, PydanticField(min_length=1, max_length=1000)]
Target = Annotated[str, PydanticField(min_length=1, max_length=200)]
Body = Annotated[str, PydanticField(min_length=1, max_length=PETITION_BODY_MAX)]
Goal = Annotated[int, PydanticField(ge=1, le=1_000_000_000)]
Milestones = Annotated[
    list[Goal],
    PydanticField(max_length=20),
    AfterValidator(_ascending),
]


class PetitionCreate(BaseModel):
    """A new petition. It starts as a draft, seen by no one until it is opened."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "slug": "orange-county-schools-no-arrests",
                    "title": "No arrests of young children in Orange County schools",
                    "ask": "Adopt a district policy that no child under 12 is arrested at school.",
                    "target": "Orange County School Board",
                    "body": "In September 2019 ... [fact:kaia-age-six]",
                    "goal": 5000,
                    "milestones": [1000, 2500, 5000],
                    "opens_at": None,
                    "closes_at": "2027-06-30T23:59:59Z",
                }
            ]
        },
    )

    slug: Slug = PydanticField(description="Stable; used in URLs. Cannot be changed later.")
    title: Title
    ask: Ask
    target: Target
    body: Body
    goal: Goal
    milestones: Milestones = PydanticField(default_factory=list)
    opens_at: UtcTime | None = None
    closes_at: UtcTime | None = PydanticField(default=None, description="After `opens_at`.")


class PetitionUpdate(BaseModel):
    """Fields to change. A change to `title`, `ask`, `target` or `body` makes a new version;
    signatures already taken keep the version their signer saw. `opens_at`/`closes_at` may be
    set to null."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"ask": "Pass a law making 12 the minimum age of arrest in Florida."}]
        },
    )

    title: Title = omittable()
    ask: Ask = omittable()
    target: Target = omittable()
    body: Body = omittable()
    goal: Goal = omittable()
    milestones: Milestones = omittable()
    opens_at: UtcTime | None = None
    closes_at: UtcTime | None = None


class PetitionText(BaseModel):
    """The petition's text in one language."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Fijar 12 años como edad mínima de arresto en Florida",
                    "ask": "Aprobar una ley estatal que fije en 12 años la edad mínima a la que "
                    "se puede arrestar a un niño en Florida.",
                    "target": "Legislatura de Florida",
                    "body": "En septiembre de 2019 ... [fact:kaia-age-six]",
                }
            ]
        },
    )

    title: Title
    ask: Ask
    target: Target
    body: Body


Translations = dict[str, PetitionText]
TRANSLATIONS_HELP = (
    "The text in languages other than English, by language code (e.g. `es`); set with "
    "`PUT /v1/admin/petitions/{slug}/text/{lang}`."
)


class PetitionVersionAdmin(BaseModel):
    number: int
    content_hash: str = PydanticField(description="SHA-256 of the text in every language.")
    title: str
    ask: str
    target: str
    body: str
    translations: Translations = PydanticField(description=TRANSLATIONS_HELP)
    created_at: dt.datetime


class PausePublic(BaseModel):
    scope: str = PydanticField(
        description="A petition's slug, or `*` for every petition.", examples=["*"]
    )
    reason: str = PydanticField(examples=["A bot is flooding the form."])
    retry_after_seconds: int = PydanticField(
        description="Sent to signers as `Retry-After` while the pause lasts.", examples=[600]
    )
    created_at: dt.datetime


class PetitionAdmin(BaseModel):
    """A petition as staff see it, drafts included."""

    slug: str = PydanticField(examples=["florida-minimum-arrest-age-12"])
    title: str
    ask: str
    target: str
    body: str
    translations: Translations = PydanticField(description=TRANSLATIONS_HELP)
    status: PetitionStatus
    goal: int
    milestones: list[int]
    opens_at: dt.datetime | None
    closes_at: dt.datetime | None
    closed_at: dt.datetime | None = PydanticField(description="When staff closed it.")
    version: VersionPublic
    verified_count: int
    paused: PausePublic | None = PydanticField(
        description="The pause that stops signing on it now (its own, or the one on all)."
    )
    created_at: dt.datetime
    updated_at: dt.datetime


class PetitionDetail(PetitionAdmin):
    versions: list[PetitionVersionAdmin] = PydanticField(
        description="Every text the petition has had, oldest first."
    )


class PauseRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "A bot is flooding the form.", "retry_after_seconds": 600}]
        },
    )

    reason: str = PydanticField(default="", max_length=300)
    retry_after_seconds: int = PydanticField(default=600, ge=1, le=7 * 24 * 3600)


# --- block lists --------------------------------------------------------------------------


class BlockedDomainCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"domain": "spam.example", "reason": "Bot signups."}]},
    )

    domain: str = PydanticField(
        min_length=3,
        max_length=255,
        description="An email domain; its subdomains are blocked too.",
    )
    reason: str = PydanticField(default="", max_length=300)


class BlockedDomainPublic(BaseModel):
    domain: str = PydanticField(examples=["spam.example"])
    reason: str
    created_at: dt.datetime


class BlockedRangeCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"cidr": "203.0.113.0/24", "reason": "Bot network."}]},
    )

    cidr: str = PydanticField(
        min_length=2,
        max_length=64,
        description="An IPv4 or IPv6 network in CIDR notation (`203.0.113.0/24`), or one "
        "address. Host bits must be zero.",
    )
    reason: str = PydanticField(default="", max_length=300)


class BlockedRangePublic(BaseModel):
    cidr: str = PydanticField(examples=["203.0.113.0/24"])
    reason: str
    created_at: dt.datetime


# --- audit --------------------------------------------------------------------------------


class AuditEntryPublic(BaseModel):
    id: int
    at: dt.datetime
    key_id: int | None = PydanticField(description="Null for actions taken with the CLI.")
    key_name: str = PydanticField(examples=["delivery-team"])
    action: str = PydanticField(examples=["petition.update"])
    target_type: str = PydanticField(examples=["petition"])
    target_id: str = PydanticField(examples=["florida-minimum-arrest-age-12"])
    before: dict[str, Any] | None = PydanticField(description="The target before; null if new.")
    after: dict[str, Any] | None = PydanticField(description="The target after; null if gone.")


class AuditTargetType(StrEnum):
    """What kind of thing an audit entry is about."""

    petition = "petition"
    signing = "signing"
    source = "source"
    fact = "fact"
    citation = "citation"
    discrepancy = "discrepancy"
    signature = "signature"
    signatures = "signatures"
    blocked_email_domain = "blocked_email_domain"
    blocked_ip_range = "blocked_ip_range"
    api_key = "api_key"
