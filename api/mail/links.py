"""The links mails carry to the site's pages, made here only: the confirm and withdraw links of
a signature, the access link to a signer's own signatures, and the footer's about page."""

from __future__ import annotations


def confirm_url(base_url: str, token: str, locale: str) -> str:
    return _page(base_url, "/confirm", locale, token)


def withdraw_url(base_url: str, token: str, locale: str) -> str:
    return _page(base_url, "/withdraw", locale, token)


def access_url(base_url: str, token: str, locale: str) -> str:
    """The page where a signer sees and withdraws their own signatures."""
    return _page(base_url, "/my-signatures", locale, token)


def about_url(base_url: str, locale: str) -> str:
    """The page naming the organiser, the contact and the privacy notice (mails' footer)."""
    return _page(base_url, "/about", locale)


def _page(base_url: str, path: str, locale: str, token: str | None = None) -> str:
    query = [] if token is None else [f"token={token}"]
    # The page a link opens speaks the language the signer chose, whatever their browser says.
    if locale == "es":
        query.append("lang=es")
    return f"{base_url}{path}" + ("?" + "&".join(query) if query else "")
