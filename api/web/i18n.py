"""Page strings in English and Spanish, and which of them a visitor gets.

Every string a page shows lives in strings/<lang>.json, one file per language with the same keys
(a test holds them in step). The language comes from `?lang=` when the visitor chose one with
the switch, else from Accept-Language, else English.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Final

from starlette.requests import Request

LANGUAGES: Final = ("en", "es")
DEFAULT_LANGUAGE: Final = "en"
# The locale numbers and dates are written in (babel), by page language.
BABEL_LOCALES: Final = {"en": "en_US", "es": "es_US"}
STRINGS_DIR = Path(__file__).resolve().parent / "strings"


@lru_cache(maxsize=len(LANGUAGES))
def strings(lang: str) -> MappingProxyType[str, str]:
    """The page strings of one language (read once per process)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}")
    data = json.loads((STRINGS_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return MappingProxyType(data)


def fill(text: str, **values: object) -> str:
    """Put values into a page string's `{name}` placeholders."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def format_number(value: int, lang: str) -> str:
    """A number as a reader of `lang` writes it ("1,234")."""
    # Imported on first use, as in country_names: api.errors imports this module everywhere.
    from babel.numbers import format_decimal

    return format_decimal(value, locale=BABEL_LOCALES[lang])


def format_long_date(value: date, lang: str) -> str:
    """A date as a reader of `lang` writes it in full ("June 5, 2026")."""
    from babel.dates import format_date  # on first use, as format_number

    return format_date(value, format="long", locale=BABEL_LOCALES[lang])


@dataclass(frozen=True)
class LanguageChoice:
    lang: str
    explicit: bool  # chosen with ?lang=, so links keep carrying it


def language_from_accept(header: str | None) -> str:
    """The supported language the visitor prefers most, by Accept-Language q-values.

    `es-US;q=0.9` counts as `es`; `*` matches the default; q=0 means "not this one".
    """
    best, best_q = DEFAULT_LANGUAGE, -1.0
    for item in (header or "").split(",")[:20]:
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().split("-")[0].lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if primary == "*":
            primary = DEFAULT_LANGUAGE
        if primary not in LANGUAGES or q <= 0:
            continue
        if q > best_q:  # on equal q-values the earlier entry wins
            best, best_q = primary, q
    return best


def choose_language(request: Request) -> LanguageChoice:
    requested = request.query_params.get("lang", "").lower()
    if requested in LANGUAGES:
        return LanguageChoice(requested, explicit=True)
    return LanguageChoice(language_from_accept(request.headers.get("accept-language")), False)


@lru_cache(maxsize=len(LANGUAGES))
def country_names(lang: str) -> tuple[tuple[str, str], ...]:
    """(code, name in `lang`) for every country the API takes: the United States first, then
    by name as a reader of `lang` would look for it (accents do not move a name)."""
    from babel import Locale

    from api.petitions.validation import COUNTRIES

    territories = Locale.parse(lang).territories
    named = [(code, territories.get(code, code)) for code in COUNTRIES]

    def order(item: tuple[str, str]) -> tuple[bool, str]:
        folded = unicodedata.normalize("NFKD", item[1].casefold())
        return item[0] != "US", "".join(ch for ch in folded if not unicodedata.combining(ch))

    return tuple(sorted(named, key=order))
