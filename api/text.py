"""Which text the databases can store: every request string is checked against this once, at
the edge (api.middleware.storable_text), so no handler meets a string its database refuses.

PostgreSQL refuses NUL in text; neither database can encode a lone UTF-16 surrogate (JSON's
"\\ud800" decodes to one) as UTF-8.
"""

from __future__ import annotations


def is_storable_text(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


NOT_STORABLE = "Must not contain NUL characters or unpaired UTF-16 surrogates."


# A value starting with one of these is run as a formula by spreadsheet programs (OWASP "CSV
# injection"): signers' names refuse them, exported cells defuse them.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_like(text: str) -> str:
    """Escape LIKE's wildcards so a search term matches itself (use with `escape="\\\\"`)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
