"""The pages' HTML forms, for browsers without JavaScript: reading a form-encoded body, the
checks against cross-site posts, and the JSON API's validation errors as page messages.

Cross-site posts. The signing form is public: there is no session or login for a forged post
to ride on, and anyone can send the API any signature directly, so what a forged post could
gain is a visitor's browser and address. Three checks stop it without making the petition page
personal (it is cached for everyone, so it cannot carry a per-visitor token or cookie):

1. Fetch Metadata: a browser that sends `Sec-Fetch-Site` (all current ones) must say
   `same-origin`; another site's form or script says `cross-site` or `same-site`.
2. Origin, for browsers without Fetch Metadata: when one names a real origin, it must be ours.
   Pages are served with `Referrer-Policy: no-referrer`, under which browsers may send
   `Origin: null`, so `null` (and no Origin at all) is left to the third check.
3. A form token: the hour the page was rendered, signed with SECRET_KEY (HMAC) for this
   petition. A post must carry one less than FORM_TOKEN_HOURS old: a form copied to another
   site goes stale, and a token cannot be made without the key.

The confirm, withdraw and my-signatures forms carry the emailed link's token, which is itself
the secret a forger would need; they get the first two checks.

The signing form as the page shows it again (what was entered, the errors next to fields, a
message above the button) is `SignForm`; `read_sign_form` gives it with the JSON API's body.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from urllib.parse import parse_qsl, urlsplit

from pydantic import ValidationError
from starlette.requests import Request

from api.config import Settings
from api.errors import (
    AppError,
    Conflict,
    FieldError,
    TooManyRequests,
    UnprocessableContent,
    validation_field_errors,
)
from api.petitions.models import SignatureCreate
from api.web.i18n import strings

FORM_TOKEN_HOURS = 24
MAX_FORM_FIELDS = 30
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"

# The fields of the signing form that can show an error, in the order of the page.
SIGN_FIELDS = ("first_name", "last_name", "email", "postal_code", "country", "comment")
REQUIRED_FIELDS = ("first_name", "last_name", "email", "postal_code")
# What the signing form keeps when it is shown again with errors.
FORM_VALUES = (*SIGN_FIELDS, "display_publicly", "contact_opt_in", "ref")
# What the signing form says when the service refuses, by its error (as petition.js does).
FORM_FAILURES: dict[type[AppError], str] = {
    Conflict: "not_open",
    TooManyRequests: "rate_limited",
}


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a form-encoded body (the first value of each; at most MAX_FORM_FIELDS).
    The body's size is capped before this runs (MAX_BODY_BYTES)."""
    body = await request.body()
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    form: dict[str, str] = {}
    for name, value in pairs[:MAX_FORM_FIELDS]:
        form.setdefault(name, value)
    return form


def from_this_site(request: Request, public_base_url: str) -> bool:
    """Checks 1 and 2 above. A browser's `Sec-Fetch-Site` is authoritative; without it, a real
    `Origin` must be ours: PUBLIC_BASE_URL's, or the address the request was sent to (a
    cross-site post carries the other site's origin and our host, so they differ)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    origin = origin.rstrip("/")
    ours = urlsplit(public_base_url)
    return origin in (
        f"{ours.scheme}://{ours.netloc}",
        f"{request.url.scheme}://{request.url.netloc}",
    )


def _signature(secret: bytes, purpose: str, hour: int) -> str:
    message = f"{purpose}|{hour}".encode()
    return hmac.new(secret, message, sha256).hexdigest()[:32]


def form_token(secret: bytes, purpose: str, now: float | None = None) -> str:
    hour = int((time.time() if now is None else now) // 3600)
    return f"{hour}.{_signature(secret, purpose, hour)}"


def valid_form_token(secret: bytes, purpose: str, token: str, now: float | None = None) -> bool:
    hour_text, _, signature = token.partition(".")
    if not hour_text.isdigit() or len(hour_text) > 12:
        return False
    hour = int(hour_text)
    current = int((time.time() if now is None else now) // 3600)
    if not 0 <= current - hour < FORM_TOKEN_HOURS:
        return False
    return hmac.compare_digest(signature, _signature(secret, purpose, hour))


def signature_fields(form: Mapping[str, str], lang: str) -> dict[str, object]:
    """The signing form as the JSON API's body (SignatureCreate): checkboxes are present or
    not, an empty comment is none, the page's language is the emails' language."""
    fields: dict[str, object] = {
        name: form.get(name, "").strip()
        for name in ("first_name", "last_name", "email", "postal_code", "country")
    }
    fields["comment"] = form.get("comment", "").strip() or None
    fields["display_publicly"] = "display_publicly" in form
    fields["contact_opt_in"] = "contact_opt_in" in form
    fields["locale"] = lang
    fields["ref"] = form.get("ref", "")[:16] or None
    fields["website"] = form.get("website", "")[:200] or None
    return fields


def missing_fields(form: Mapping[str, str], t: Mapping[str, str]) -> dict[str, str]:
    """Required fields left empty, with the message the page's script shows for them."""
    return {
        name: t[f"err_{name}_missing"] for name in REQUIRED_FIELDS if not form.get(name, "").strip()
    }


def field_messages(errors: Sequence[FieldError], lang: str, t: Mapping[str, str]) -> dict[str, str]:
    """The API's field errors as the page shows them (what petition.js does with a 422): the
    API's own message in the page's language, one per field."""
    messages: dict[str, str] = {}
    for error in errors:
        name = error.field.split(".")[0]
        if name not in SIGN_FIELDS or name in messages:
            continue
        message = error.in_language(lang).message or t["err_generic"]
        message = message[0].upper() + message[1:]
        messages[name] = message if message.endswith((".", "!", "?")) else message + "."
    return messages


# --- the signing form, as the page shows it again ----------------------------------------------


@dataclass
class SignForm:
    """The signing form as the page shows it: what was entered, the errors next to fields,
    a message above the button, and the address the link went to once signed."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    signed_email: str | None = None

    def refused(self, error: AppError, lang: str) -> None:
        """The service's refusal as the page shows it: the fields it names, or a message."""
        t = strings(lang)
        if isinstance(error, UnprocessableContent):
            self.errors = field_messages(error.errors or [], lang, t)
            self.message = t["errors_summary"]
        else:
            self.message = t[FORM_FAILURES.get(type(error), "server_error")]


async def read_sign_form(
    request: Request, slug: str, settings: Settings, lang: str
) -> tuple[SignForm, SignatureCreate | None, int]:
    """The posted signing form, checked as the JSON API checks a signature: the form to show
    again, the API's body when the form is valid, and the status to answer with (403 for a
    cross-site or stale post, 422 for invalid fields, else 200)."""
    t = strings(lang)
    form = await read_form(request)
    state = SignForm(values={name: form.get(name, "") for name in FORM_VALUES})
    if not (
        from_this_site(request, settings.public_base_url)
        and valid_form_token(settings.secret(), f"sign|{slug}", form.get("form_token", ""))
    ):
        state.message = t["form_expired"]
        return state, None, 403
    state.errors = missing_fields(form, t)
    if not state.errors:
        try:
            return state, SignatureCreate.model_validate(signature_fields(form, lang)), 200
        except ValidationError as exc:
            state.errors = field_messages(validation_field_errors(exc.errors()), lang, t)
    state.message = t["errors_summary"]
    return state, None, 422
