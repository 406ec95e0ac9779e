"""The security headers every response carries (unless it sets them itself), added by the
edge (api.middleware.edge); HSTS only when the request came over HTTPS."""

from __future__ import annotations

from starlette.types import Message, Scope

from api.middleware.headers import header_value

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"

# Encoded once: this runs on every response.
_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_PAGE_CSP = (b"content-security-policy", PAGE_CSP.encode())
_API_CSP = (b"content-security-policy", API_CSP.encode())
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def security_headers(scope: Scope, start: Message) -> list[tuple[bytes, bytes]]:
    """The security headers for the response `start` begins, as (lower-case name, value)."""
    extra = list(_ALWAYS)
    # The interactive docs load their own scripts and styles: no CSP there.
    if not scope["path"].startswith(("/docs", "/redoc")):
        content_type = header_value(start, b"content-type") or b""
        extra.append(_PAGE_CSP if content_type.startswith(b"text/html") else _API_CSP)
    if scope.get("scheme") == "https":
        extra.append(_HSTS)
    return extra
