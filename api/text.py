"""Which text the databases can store: every request string is checked against this once, at
the edge (api.http.StorableTextMiddleware), so no handler meets a string its database refuses.

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
