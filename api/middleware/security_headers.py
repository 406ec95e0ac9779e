"""Security headers on every response."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware.headers import add_missing, header_value

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"

# Encoded once: this runs on every response.
_ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
_PAGE_CSP = (b"content-security-policy", PAGE_CSP.encode())
_API_CSP = (b"content-security-policy", API_CSP.encode())
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class SecurityHeadersMiddleware:
    """Headers every response carries (unless it sets them itself); HSTS only when the
    request came over HTTPS."""

    PAGE_CSP = PAGE_CSP
    API_CSP = API_CSP

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        # The interactive docs load their own scripts and styles: no CSP there.
        with_csp = not scope["path"].startswith(("/docs", "/redoc"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(_ALWAYS)
                if with_csp:
                    content_type = header_value(message, b"content-type") or b""
                    extra.append(_PAGE_CSP if content_type.startswith(b"text/html") else _API_CSP)
                if https:
                    extra.append(_HSTS)
                add_missing(message, extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)
