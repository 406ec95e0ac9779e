"""Input rules for signatures: names, emails, postal codes, countries.

Each rule refuses with a `FieldProblem`: a stable code of ours, whose message (English or
Spanish) comes from api.field_errors.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS
from email_validator import EmailNotValidError, validate_email
from pydantic import ValidationInfo

from api.field_errors import FieldProblem

NAME_MAX = 100
EMAIL_MAX = 254  # what email_validator accepts (RFC 5321's path limit less the brackets)
POSTAL_CODE_MAX = 16
COMMENT_MAX = 500

# Values starting with these are run as formulas by spreadsheet programs (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_URL_LIKE = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://|www\.|\b[\w-]+\.(?:com|net|org|info|biz|io|co|ru|xyz|top|ly|me)\b)",
    re.IGNORECASE,
)
_US_ZIP = re.compile(r"^(\d{5})(?:-(\d{4}))?$")
_OTHER_POSTAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]*$")

GMAIL_DOMAINS = {"gmail.com", "googlemail.com"}

# ISO 3166-1 alpha-2, officially assigned codes.
COUNTRIES = frozenset(
    (
        "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO "
        "BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ "
        "DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP "
        "GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG "
        "KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML "
        "MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE "
        "PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL "
        "SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM "
        "US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW "
    ).split()
)


def clean_name(value: str) -> str:
    """Trim, normalise (NFKC) and refuse what is not a name."""
    value = unicodedata.normalize("NFKC", value).strip()
    value = re.sub(r"\s+", " ", value)
    if not value:
        raise FieldProblem("required")
    if len(value) > NAME_MAX:  # NFKC can lengthen a value the schema's maxLength let through
        raise FieldProblem("too_long", max_length=NAME_MAX)
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise FieldProblem("control_characters")
    if value.startswith(FORMULA_PREFIXES):
        raise FieldProblem("formula_prefix")
    if _URL_LIKE.search(value) or "@" in value:
        raise FieldProblem("contains_address")
    return value


def clean_comment(value: str) -> str:
    value = unicodedata.normalize("NFKC", value).strip()
    if len(value) > COMMENT_MAX:
        raise FieldProblem("too_long", max_length=COMMENT_MAX)
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n" for ch in value):
        raise FieldProblem("control_characters")
    return value


def normalise_email(value: str) -> str:
    """Syntax check only: no DNS look-ups at request time."""
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise FieldProblem("invalid_email") from exc
    return result.normalized


def refuse_disposable(email: str) -> str:
    """Throwaway providers are refused: a signature must reach a person again."""
    if email.rpartition("@")[2].casefold() in DISPOSABLE_DOMAINS:
        raise FieldProblem("disposable_email")
    return email


def canonical_email(email: str) -> str:
    """The form two addresses of one mailbox share: case-folded; for Gmail, without dots and
    +tags in the local part, and googlemail.com folded into gmail.com."""
    local, _, domain = email.casefold().rpartition("@")
    if domain in GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


def clean_country(value: str) -> str:
    value = value.strip().upper()
    if value not in COUNTRIES:
        raise FieldProblem("invalid_country")
    return value


class PostalPlace:
    __slots__ = ("county", "postal_code", "state")

    def __init__(self, postal_code: str, state: str | None, county: str | None) -> None:
        self.postal_code = postal_code
        self.state = state
        self.county = county


def resolve_postal_code(value: str, country: str) -> PostalPlace:
    """A US code must be a real ZIP (or ZIP+4) and resolves to its state and county from the
    dataset the `zipcodes` package ships; other countries keep the code as given."""
    value = value.strip()
    if country != "US":
        value = re.sub(r"\s+", " ", value).upper()
        if not value or len(value) > POSTAL_CODE_MAX or not _OTHER_POSTAL.match(value):
            raise FieldProblem("invalid_postal_code", max_length=POSTAL_CODE_MAX)
        return PostalPlace(value, None, None)
    match = _US_ZIP.match(value)
    if match is None:
        raise FieldProblem("invalid_zip_code")
    place = zip_place(match.group(1))
    if place is None:
        raise FieldProblem("unknown_postal_code")
    state, county = place
    return PostalPlace(value, state, county)


def postal_code_of_country(value: str, info: ValidationInfo) -> str:
    """Checked against the `country` sent with it (a field declared before it). If the country
    itself was refused, its own error says so and the code is not judged against a guess."""
    country = info.data.get("country")
    if country is not None:
        resolve_postal_code(value, country)
    return value


@lru_cache(maxsize=65_536)
def zip_place(zip5: str) -> tuple[str, str | None] | None:
    """ZIP -> (state, county) from the dataset the `zipcodes` package ships (no network).

    The package's native lookup (about 0.1 ms, ~40 MiB once loaded) is used directly: building
    a Python dict of every record cost 1.7 s and 138 MiB in each process.
    """
    import zipcodes

    for entry in zipcodes.matching(zip5):
        if entry.get("active", True):
            return entry["state"], entry.get("county") or None
    return None
