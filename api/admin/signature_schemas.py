"""Request bodies and views of the admin signature API: search, strike, release, export."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator
from pydantic import Field as PydanticField

from api.admin.schemas import Reason, UtcTime
from api.fields import Slug
from api.petitions.models import SignatureStatus
from api.petitions.validation import POSTAL_CODE_MAX, normalise_email

# --- signatures ---------------------------------------------------------------------------

Email = Annotated[str, PydanticField(max_length=320), AfterValidator(normalise_email)]


class SignatureQuery(BaseModel):
    """Criteria, combined with AND."""

    petition: Slug | None = PydanticField(default=None, description="A petition's slug.")
    status: SignatureStatus | None = None
    signed_from: UtcTime | None = PydanticField(
        default=None, description="Signed at or after this time (with its UTC offset)."
    )
    signed_to: UtcTime | None = PydanticField(
        default=None, description="Signed before this time (with its UTC offset)."
    )
    email: Email | None = PydanticField(
        default=None,
        description="One signer, matched through the keyed hash of the canonical address (for "
        "Gmail, dots and +tags do not matter).",
    )
    email_domain: str | None = PydanticField(
        default=None,
        min_length=1,
        max_length=255,
        pattern=r"^[^@\s]+$",
        description="Signers whose address ends in `@DOMAIN`.",
    )
    ip_hash: str | None = PydanticField(
        default=None,
        max_length=64,
        pattern=r"^[0-9a-f]{64}$",
        description="The `ip_hash` of a signature.",
    )
    postal_code: str | None = PydanticField(
        default=None,
        min_length=1,
        max_length=POSTAL_CODE_MAX,
        description="Exact, except that a 5-digit ZIP also matches its ZIP+4 forms.",
    )


class SignatureFilter(SignatureQuery):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _not_everything(self) -> SignatureFilter:
        if not self.model_fields_set - {"status"}:
            raise ValueError(
                "give at least one criterion besides status (e.g. petition); "
                "a strike never takes everything by default"
            )
        return self


class StrikeRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "Duplicate signer."}]}
    )

    reason: Reason = PydanticField(description="Why; kept in the audit log.")


class StrikeByFilterRequest(StrikeRequest):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reason": "Bot wave from one network on 2026-11-20.",
                    "filter": {
                        "petition": "florida-minimum-arrest-age-12",
                        "signed_from": "2026-11-20T14:00:00Z",
                        "signed_to": "2026-11-20T15:00:00Z",
                        "ip_hash": "9f2c" + "0" * 60,
                    },
                    "dry_run": True,
                }
            ]
        },
    )

    filter: SignatureFilter
    dry_run: bool = PydanticField(
        default=False, description="Count what would be struck, and change nothing."
    )


class StrikeResult(BaseModel):
    dry_run: bool
    struck: int = PydanticField(description="Signatures struck (or that would be).")
    uncounted: int = PydanticField(
        description="Of those, confirmed ones: each came off its petition's count."
    )


class ReleaseRequest(StrikeRequest):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "School assembly at Jones High, checked."}]},
    )


class ReleaseByFilterRequest(StrikeByFilterRequest):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reason": "Rally tablet at the Capitol, 2026-11-20 afternoon.",
                    "filter": {
                        "petition": "florida-minimum-arrest-age-12",
                        "ip_hash": "9f2c" + "0" * 60,
                    },
                    "dry_run": True,
                }
            ]
        },
    )


class ReleaseResult(BaseModel):
    dry_run: bool
    released: int = PydanticField(description="Held signatures released (or that would be).")
    counted: int = PydanticField(
        description="Of those, confirmed by their signers: each now counts. The others count "
        "once their signers confirm."
    )


class SignatureAdmin(BaseModel):
    """A signature as moderators see it. `email` is the full address only for keys with
    `signatures:export`; otherwise it is masked (`a***@example.org`)."""

    id: int
    petition_slug: str
    petition_version: int = PydanticField(description="The version of the text the signer saw.")
    status: SignatureStatus
    email: str | None
    first_name: str | None
    last_name: str | None
    postal_code: str | None
    county: str | None
    state: str | None
    country: str
    comment: str | None
    ip_hash: str | None = PydanticField(
        description="Keyed hash of the signer's IP; equal hashes mean the same address."
    )
    display_publicly: bool
    contact_opt_in: bool
    locale: str
    created_at: dt.datetime
    confirmed_at: dt.datetime | None
    withdrawn_at: dt.datetime | None


class ExportFormat(StrEnum):
    csv = "csv"
    ndjson = "ndjson"
