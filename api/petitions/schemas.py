"""What the petitions API reads and answers: request bodies and response models."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictBool
from pydantic import Field as PydanticField

from api.fields import SLUG_MAX
from api.petitions.models import REFERRAL_CHANNELS, REFERRAL_MAX, Language, PetitionStatus
from api.petitions.validation import (
    COMMENT_MAX,
    EMAIL_MAX,
    NAME_MAX,
    POSTAL_CODE_MAX,
    clean_comment,
    clean_country,
    clean_name,
    normalise_email,
    postal_code_of_country,
    refuse_disposable,
)


def known_referral(value: str | None) -> str | None:
    """The channel if it is one we count, else None (unknown values are dropped, not refused:
    a mistyped link must never stop anyone signing)."""
    value = (value or "").strip().lower()
    return value if value in REFERRAL_CHANNELS else None


# --- request bodies -----------------------------------------------------------------------

# The schema states the limits the server enforces (a test compares them).
Name = Annotated[str, PydanticField(min_length=1, max_length=NAME_MAX), AfterValidator(clean_name)]
Email = Annotated[
    str,
    PydanticField(min_length=3, max_length=EMAIL_MAX, json_schema_extra={"format": "email"}),
    AfterValidator(normalise_email),
]
SignerEmail = Annotated[Email, AfterValidator(refuse_disposable)]


class SignatureCreate(BaseModel):
    """What a signer sends. Unknown fields are refused."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "first_name": "Ana",
                    "last_name": "García",
                    "email": "ana@example.org",
                    "postal_code": "32801",
                    "country": "US",
                    "comment": "No child should be arrested at school.",
                    "display_publicly": True,
                    "contact_opt_in": False,
                    "locale": "es",
                }
            ]
        },
    )

    first_name: Name = PydanticField(description="Given name, 1-100 characters.")
    last_name: Name = PydanticField(
        description="Family name, 1-100 characters. Never shown publicly: only its initial is."
    )
    email: SignerEmail = PydanticField(
        description="Where the confirmation link is sent. Never shown publicly. Addresses of "
        "disposable-mail providers are refused."
    )
    # Before postal_code: a postal code is judged by its country.
    country: Annotated[
        str, PydanticField(min_length=2, max_length=2), AfterValidator(clean_country)
    ] = PydanticField(default="US", description="ISO 3166-1 alpha-2 code.")
    postal_code: Annotated[
        str,
        PydanticField(
            min_length=1, max_length=POSTAL_CODE_MAX, pattern=r"^\s*[A-Za-z0-9][A-Za-z0-9 -]*\s*$"
        ),
        AfterValidator(postal_code_of_country),
    ] = PydanticField(
        description="For US: a ZIP (5 digits) or ZIP+4 in use; it is resolved to its state "
        "and county. Other countries: up to 16 letters, digits, spaces or hyphens."
    )
    comment: Annotated[str, AfterValidator(clean_comment)] | None = PydanticField(
        default=None, max_length=COMMENT_MAX, description="Optional, at most 500 characters."
    )
    display_publicly: StrictBool = PydanticField(
        default=False,
        description="Show first name, last initial, place and comment in the public list.",
    )
    contact_opt_in: StrictBool = PydanticField(
        default=False, description="The signer agrees to hear from the campaign again."
    )
    locale: Language = PydanticField(default=Language.en, description="Language of the emails.")
    ref: Annotated[str | None, AfterValidator(known_referral)] = PydanticField(
        default=None,
        max_length=REFERRAL_MAX,
        description="The `ref` of the shared link the signer came by (`whatsapp`, `facebook`, "
        "`x`, `email`, `copy`, `share`, `qr`). Other values of up to 16 characters are "
        "ignored. Counted only in aggregate, over confirmed signatures.",
    )
    website: str | None = PydanticField(
        default=None,
        max_length=200,
        description="Leave out or empty. A honeypot: forms keep it hidden from people, and a "
        "request that fills it is answered as usual but nothing is stored or sent.",
    )


class TokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = PydanticField(
        min_length=16, max_length=128, description="The token from the emailed link."
    )


# --- responses ----------------------------------------------------------------------------


class SignatureAccepted(BaseModel):
    status: Literal["pending_confirmation"] = PydanticField(
        default="pending_confirmation",
        description="Always this value, whether the email is new, pending or already "
        "confirmed: the answer never reveals whether someone signed.",
    )


class ConfirmStatus(StrEnum):
    """`already_confirmed` when the link had been used before: harmless. `held_for_review`:
    confirmed, but many signatures came from the same network at once, so it counts once
    campaign staff have reviewed it."""

    confirmed = "confirmed"
    already_confirmed = "already_confirmed"
    held_for_review = "held_for_review"


class WithdrawStatus(StrEnum):
    """`already_withdrawn` when the signature had been withdrawn before: harmless."""

    withdrawn = "withdrawn"
    already_withdrawn = "already_withdrawn"


class ConfirmResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": "confirmed", "petition_slug": "florida-minimum-arrest-age-12"}]
        }
    )

    status: ConfirmStatus
    petition_slug: str


class WithdrawResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": "withdrawn", "petition_slug": "florida-minimum-arrest-age-12"}]
        }
    )

    status: WithdrawStatus
    petition_slug: str


class VersionPublic(BaseModel):
    number: int = PydanticField(description="Increases with every change to the text.")
    content_hash: str = PydanticField(description="SHA-256 of the text the signer saw.")


class PetitionPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "slug": "florida-minimum-arrest-age-12",
                    "title": "Set 12 as the minimum age of arrest in Florida",
                    "ask": "Pass a state law making 12 the minimum age at which a child can be "
                    "arrested in Florida.",
                    "target": "Florida Legislature",
                    "body": "In September 2019, police in Orlando arrested Kaia Rolle, a "
                    "six-year-old pupil, at her elementary school "
                    "[fact:kaia-arrested-september-2019] [fact:kaia-age-six]. ...",
                    "status": "open",
                    "goal": 10000,
                    "milestones": [1000, 5000, 10000],
                    "opens_at": "2026-11-01T00:00:00Z",
                    "closes_at": None,
                    "version": {"number": 1, "content_hash": "5f0c" + "0" * 60},
                    "verified_count": 1234,
                    "progress": 0.1234,
                }
            ]
        }
    )

    slug: str
    language: str = PydanticField(
        description="The language of `title`, `ask`, `target` and `body`: the one asked for "
        "(`?lang=`, else `Accept-Language`) if the petition has it, else `en`. Also sent as "
        "`Content-Language`.",
        examples=["es"],
    )
    available_languages: list[str] = PydanticField(
        description="Languages the petition's text is available in; `en` always.",
        examples=[["en", "es"]],
    )
    title: str
    ask: str = PydanticField(description="The policy change asked for.")
    target: str = PydanticField(description="Who must act.")
    body: str = PydanticField(
        description="The case, plain text; paragraphs are separated by a blank line. "
        "`[fact:ID]` refers to `/v1/facts/ID`."
    )
    status: PetitionStatus
    goal: int
    milestones: list[int]
    opens_at: dt.datetime | None
    closes_at: dt.datetime | None
    version: VersionPublic
    verified_count: int = PydanticField(description="Confirmed signatures (within seconds).")
    progress: float = PydanticField(description="verified_count / goal, capped at 1.")


class CountPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"verified": 1234, "goal": 10000, "updated_at": "2026-11-20T14:03:11Z"}]
        }
    )

    verified: int = PydanticField(description="Confirmed signatures, exact within seconds.")
    goal: int
    updated_at: dt.datetime = PydanticField(description="When the count was read.")


class StatBucket(BaseModel):
    key: str = PydanticField(description="The state code, county name or day.")
    count: int


class PetitionStats(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "by_state": [{"key": "FL", "count": 1100}, {"key": "GA", "count": 40}],
                    "by_florida_county": [{"key": "Orange County", "count": 420}],
                    "by_day": [{"key": "2026-11-20", "count": 310}],
                    "updated_at": "2026-11-20T14:03:11Z",
                }
            ]
        }
    )

    by_state: list[StatBucket] = PydanticField(description="Confirmed US signatures by state.")
    by_florida_county: list[StatBucket] = PydanticField(
        description="Confirmed signatures from Florida, by county."
    )
    by_day: list[StatBucket] = PydanticField(description="Confirmations per day (UTC).")
    updated_at: dt.datetime


class RecentSignature(BaseModel):
    """Only signers who chose `display_publicly`; nothing else about them is ever shown."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "first_name": "Ana",
                    "last_initial": "G",
                    "place": "Orange County, FL",
                    "comment": "No child should be arrested at school.",
                    "signed_at": "2026-11-20T14:03:11Z",
                }
            ]
        }
    )

    first_name: str
    last_initial: str
    place: str | None = PydanticField(description="County and state, or state, or country.")
    comment: str | None
    signed_at: dt.datetime = PydanticField(description="When the signature was confirmed.")


class AccessRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    locale: Language = Language.en


class AccessRequested(BaseModel):
    status: Literal["check_your_email"] = PydanticField(
        default="check_your_email",
        description="Always this value: the answer never reveals whether the email is known.",
    )


class MySignatureStatus(StrEnum):
    """`pending` until the emailed link is followed, then `confirmed`."""

    pending = "pending"
    confirmed = "confirmed"


class MySignature(BaseModel):
    petition_slug: str
    petition_title: str
    status: MySignatureStatus
    signed_at: dt.datetime


class MySignatures(BaseModel):
    signatures: list[MySignature]


class ReferralCount(BaseModel):
    channel: str | None = PydanticField(
        description="The `ref` channel, or null for signers who came by no known shared link."
    )
    confirmed: int = PydanticField(description="Confirmed signers who came by this channel.")


class MyWithdrawal(TokenBody):
    petition_slug: str = PydanticField(max_length=SLUG_MAX)
