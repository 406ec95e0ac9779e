"""Input rules for signatures: names, emails, postal codes, countries.

Each rule refuses with a `FieldProblem`: a stable code of ours, whose message (English or
Spanish) comes from api.field_errors.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS
from email_validator import EmailNotValidError, validate_email
from pydantic import ValidationInfo

from api.field_errors import FieldProblem
from api.text import FORMULA_PREFIXES

NAME_MAX = 100
EMAIL_MAX = 254  # what email_validator accepts (RFC 5321's path limit less the brackets)
POSTAL_CODE_MAX = 16
COMMENT_MAX = 500

_URL_LIKE = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://|www\.|\b[\w-]+\.(?:com|net|org|info|biz|io|co|ru|xyz|top|ly|me)\b)",
    re.IGNORECASE,
)
_US_ZIP = re.compile(r"^(\d{5})(?:-(\d{4}))?$")
_OTHER_POSTAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]*$")


@dataclass(frozen=True)
class Mailbox:
    """How a provider delivers many spellings to one mailbox."""

    domain: str  # the domain its addresses are folded into
    tag: str  # the separator after which the local part is a tag the provider ignores
    dots: bool = False  # whether dots in the local part are ignored


# Providers whose plus (or dash) addressing we fold, so that one mailbox signs once; the
# table in README.md ("One mailbox, one signature") says the same. Only Gmail's two domains
# are folded into one, as they always were: folding others (me.com into icloud.com, pm.me
# into proton.me) would change the canonical form of addresses without a tag, and so orphan
# the keyed hashes of people who already signed with them.
MAILBOXES: dict[str, Mailbox] = {
    "gmail.com": Mailbox("gmail.com", "+", dots=True),
    "googlemail.com": Mailbox("gmail.com", "+", dots=True),
    **{
        domain: Mailbox(domain, "+")
        for domain in (
            *("outlook.com", "hotmail.com", "live.com", "msn.com"),
            *("icloud.com", "me.com", "mac.com"),
            *("fastmail.com", "fastmail.fm"),
            *("proton.me", "protonmail.com", "pm.me"),
        )
    },
    **{domain: Mailbox(domain, "-") for domain in ("yahoo.com", "ymail.com")},
}

# Scripts that may be mixed in one local part: Unicode's "highly restrictive" profile
# (UTS #39). Other mixes (Latin with Cyrillic or Greek...) are how look-alike addresses are
# made, and are refused.
_SCRIPT_MIXES = (
    frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "CJK", "BOPOMOFO"}),
    frozenset({"LATIN", "CJK", "HANGUL"}),
)

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


_WHITESPACE_RUN = re.compile(r"\s+")


def clean_name(value: str) -> str:
    """Trim, normalise (NFKC) and refuse what is not a name."""
    value = unicodedata.normalize("NFKC", value).strip()
    value = _WHITESPACE_RUN.sub(" ", value)
    if not value:
        raise FieldProblem("required")
    if len(value) > NAME_MAX:  # NFKC can lengthen a value the schema's maxLength let through
        raise FieldProblem("too_long", max_length=NAME_MAX)
    # A printable string has no character of the "Other" categories (str.isprintable), so
    # only the rare one that is not is looked at character by character.
    if not value.isprintable() and any(unicodedata.category(ch).startswith("C") for ch in value):
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
    if not value.isprintable() and any(
        unicodedata.category(ch) == "Cc" and ch not in "\n" for ch in value
    ):
        raise FieldProblem("control_characters")
    return value


# The common address (an ASCII dot-atom local part): its domain is checked once per domain
# (below), not on every signature; anything else takes the full check.
_ASCII_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LOCAL_MAX = 64
_ADDRESS_MAX = 254


@lru_cache(maxsize=4096)
def _normalised_domain(domain: str) -> str | None:
    """The domain as email_validator normalises it, or None if it refuses it."""
    try:
        return validate_email("x@" + domain, check_deliverability=False).domain
    except EmailNotValidError:
        return None


def _normalised_ascii(value: str) -> str | None:
    """What validate_email makes of an address with an ASCII dot-atom local part (it keeps
    the local part as written and normalises the domain); None when the address is not of
    that kind, or is refused (the full check then decides and words the error)."""
    local, at, domain = value.rpartition("@")
    if not at or len(local) > _LOCAL_MAX or not _ASCII_LOCAL.fullmatch(local):
        return None
    normalised = _normalised_domain(domain)
    if normalised is None:
        return None
    address = f"{local}@{normalised}"
    return address if len(address) <= _ADDRESS_MAX else None


def normalise_email(value: str) -> str:
    """Syntax check only: no DNS look-ups at request time. A local part mixing scripts that
    look alike is refused."""
    value = value.strip()
    fast = _normalised_ascii(value)
    if fast is not None:
        return fast  # an ASCII local part is in one script
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise FieldProblem("invalid_email") from exc
    local = _fold(result.normalized).rpartition("@")[0]
    if _mixes_scripts(local):
        # Look-alike letters from two alphabets (e.g. Latin and Cyrillic) would make a second
        # signature from one mailbox.
        raise FieldProblem("invalid_email")
    return result.normalized


def refuse_disposable(email: str) -> str:
    """Throwaway providers are refused: a signature must reach a person again."""
    if email.rpartition("@")[2].casefold() in DISPOSABLE_DOMAINS:
        raise FieldProblem("disposable_email")
    return email


def _fold(text: str) -> str:
    # NFKC, case-fold, NFKC again: Unicode's NFKC_Casefold (full-width letters, ligatures
    # and case all fold).
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def _mixes_scripts(local: str) -> bool:
    scripts = {
        unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0].split("-", 1)[0]
        for ch in local
        if unicodedata.category(ch).startswith("L")
    }
    return len(scripts) > 1 and not any(scripts <= allowed for allowed in _SCRIPT_MIXES)


def canonical_email(email: str) -> str:
    """The form every spelling of one mailbox shares: NFKC-case-folded; for the providers in
    MAILBOXES, without the tag (and for Gmail the dots) of the local part, in the provider's
    one domain. An address without a tag at any other domain keeps the form it always had
    (case-folded), so hashes stored before stay valid."""
    local, _, domain = _fold(email).rpartition("@")
    mailbox = MAILBOXES.get(domain)
    if mailbox is not None:
        local = local.split(mailbox.tag, 1)[0] or local
        if mailbox.dots:
            local = local.replace(".", "")
        domain = mailbox.domain
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


ZIP_PLACES = Path(__file__).with_name("data") / "us-zip-places.tsv.gz"


@lru_cache(maxsize=1)
def _zip_places() -> dict[str, tuple[str, str | None]]:
    """Every active US ZIP code -> (state, county): the table built from the `zipcodes`
    package by data/build_us_zip_places.py. ~42,000 codes in ~5 MiB, loaded in milliseconds
    (the package's own dataset cost 0.8 s and ~40 MiB in each process at start-up)."""
    places: dict[tuple[str, str | None], tuple[str, str | None]] = {}  # one tuple per county
    table: dict[str, tuple[str, str | None]] = {}
    with gzip.open(ZIP_PLACES, "rt", encoding="utf-8") as lines:
        for line in lines:
            zip5, state, county = line.rstrip("\n").split("\t")
            place = (state, county or None)
            table[zip5] = places.setdefault(place, place)
    return table


def zip_place(zip5: str) -> tuple[str, str | None] | None:
    """ZIP -> (state, county), or None for a code that is not an active US ZIP code."""
    return _zip_places().get(zip5)
