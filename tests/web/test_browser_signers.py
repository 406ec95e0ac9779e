"""In a real Chromium, issue #12's signers: a shared address is not turned away, and a Spanish
reader gets Spanish from the page to the email to the confirm page.

The app is served by uvicorn with its mail worker sending to a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from api.config import Settings
from api.db import Database
from tests.conftest import SmtpSink
from tests.web.conftest import SLUG, LiveServer, serve
from tests.web.test_browser import api_count, fill_form, link_from, wait_for_mail

pytestmark = pytest.mark.browser

TITLE_EN = "Set 12 as the minimum age of arrest in Florida"
TITLE_ES = "Fijar en 12 años la edad mínima de arresto en Florida"


def default_rate_limits() -> dict[str, Any]:
    """Every rate-limit setting at its default in api/config.py (the tests' settings turn
    rate limiting off)."""
    return {
        name: field.get_default(call_default_factory=True)
        for name, field in Settings.model_fields.items()
        if name.startswith("rate_limit_")
    }


@pytest.fixture
def limited_mail_server(
    mail_settings: Settings, smtp_server: SmtpSink, clean_database: Database
) -> Iterator[LiveServer]:
    """`mail_server` with the rate limits a deployment gets by default."""
    limits = default_rate_limits()
    assert limits["rate_limit_enabled"] is True
    server = serve(mail_settings, mail_worker_in_process=True, mail_poll_seconds=0.1, **limits)
    yield server
    server.stop()


# Seven people on one network (a classroom, an office, a carrier's shared address): different
# names, emails and ZIPs, all from 127.0.0.1.
NEIGHBOURS = [
    ("Ana", "Quintanilla", "32801"),
    ("Bruno", "Okafor", "32803"),
    ("Carla", "Mendez", "33130"),
    ("Dev", "Patel", "32301"),
    ("Elena", "Rossi", "33602"),
    ("Femi", "Adeyemi", "32202"),
    ("Grace", "Liu", "33301"),
]


def test_seven_people_from_one_address_in_one_minute_all_count_after_confirming(
    limited_mail_server: LiveServer, smtp_server: SmtpSink, new_page: Any
) -> None:
    server = limited_mail_server
    before = api_count(server)
    watcher = new_page()
    watcher.goto(server.url + f"/petitions/{SLUG}")
    count = watcher.locator("#count-text")
    expect(watcher.locator("html")).to_have_attribute("data-live", "events")

    statuses: list[int] = []
    pages: list[tuple[Any, str]] = []
    started = time.monotonic()
    for first, last, postal_code in NEIGHBOURS:
        email = f"{first.lower()}.{last.lower()}@example.org"
        page = new_page()
        page.on(
            "response",
            lambda r: statuses.append(r.status) if r.url.endswith("/signatures") else None,
        )
        page.goto(server.url + f"/petitions/{SLUG}")
        fill_form(page, email, postal_code)
        page.get_by_label("First name").fill(first)
        page.get_by_label("Last name").fill(last)
        page.get_by_role("button", name="Sign the petition").click()
        done = page.locator("#sign-done")
        expect(done).to_be_visible()
        expect(done).to_contain_text("Check your email")
        expect(done).to_contain_text(email)
        # No refusal and no error message in the form.
        expect(page.locator("#form-status")).to_have_text("")
        expect(page.locator("#form-status")).not_to_have_class(re.compile("is-error"))
        pages.append((page, email))
    assert time.monotonic() - started < 60, "the seven did not sign within one minute"
    assert statuses == [202] * len(NEIGHBOURS)

    for page, email in pages:
        page.goto(link_from(wait_for_mail(smtp_server, email), server.url, "/confirm"))
        # The page presses its confirm button itself.
        expect(page.locator("#token-status")).to_have_text(
            "Thank you! Your signature is confirmed and now counts."
        )
        expect(page.get_by_role("heading", level=1)).to_have_text("Your signature is confirmed")

    after = before + len(NEIGHBOURS)
    assert api_count(server) == after
    expect(count).to_have_text(f"{after} verified signatures", timeout=10_000)
    watcher.reload()
    expect(watcher.locator("#count-text")).to_have_text(f"{after} verified signatures")


def mail_text(message: EmailMessage, kind: str) -> str:
    part = message.get_body(preferencelist=(kind,))
    assert part is not None, f"no {kind} part"
    return str(part.get_content())


def test_spanish_page_email_and_confirm_page_are_spanish_throughout(
    mail_server: LiveServer, smtp_server: SmtpSink, new_page: Any
) -> None:
    page = new_page(locale="es-US")  # Chromium sends Accept-Language: es-US
    page.goto(mail_server.url + f"/petitions/{SLUG}?lang=es")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE_ES)
    expect(page.get_by_role("heading", level=1)).to_have_attribute("lang", "es")
    expect(page).to_have_title(re.compile("^" + re.escape(TITLE_ES)))
    assert TITLE_EN not in page.content()
    expect(page.get_by_role("heading", name="Firme la petición")).to_be_visible()

    email = "lucia.es@example.org"
    page.get_by_label("Nombre", exact=True).fill("Lucía")
    page.get_by_label("Apellido").fill("Fernández")
    page.get_by_label("Correo electrónico").fill(email)
    page.get_by_label(re.compile("^Código postal")).fill("33130")
    page.get_by_label("País").select_option("US")
    page.get_by_role("button", name="Firmar la petición").click()
    done = page.locator("#sign-done")
    expect(done).to_be_visible()
    expect(done).to_contain_text(email)
    expect(done).to_contain_text("Revise su correo")
    expect(done).not_to_contain_text("Check your email")

    mail = wait_for_mail(smtp_server, email)
    assert mail["Subject"] == f"Confirme su firma: {TITLE_ES}"
    text, html = mail_text(mail, "plain"), mail_text(mail, "html")
    for body in (text, html):
        assert TITLE_ES in body
        assert TITLE_EN not in body
        assert "Hola Lucía:" in body
        assert "Su firma solo cuenta cuando la confirma" in body
        assert "Sobre esta petición, quién la organiza y sus datos" in body
    assert '<html lang="es">' in html

    # The link carries the language, so the page that opens is Spanish whatever the browser.
    match = re.search(re.escape(mail_server.url) + r"/confirm\?token=[A-Za-z0-9_-]+&lang=es", text)
    assert match, "no Spanish /confirm link in the mail"
    assert link_from(mail, mail_server.url, "/confirm") in match.group(0)
    confirm = new_page()  # an English browser: the link alone makes the page Spanish
    confirm.goto(match.group(0))
    expect(confirm.locator("#token-status")).to_have_text(
        "¡Gracias! Su firma está confirmada y ya cuenta."
    )
    expect(confirm.locator("html")).to_have_attribute("lang", "es")
    expect(confirm.get_by_role("heading", level=1)).to_have_text("Su firma está confirmada")
    expect(confirm.locator(".confirmed-title")).to_have_text(f"Petición: {TITLE_ES}")
    expect(confirm.locator("#confirmed-count")).to_have_text("1 firma verificada")
    assert TITLE_EN not in confirm.content()
    assert httpx.get(f"{mail_server.url}/v1/petitions/{SLUG}/count").json()["verified"] == 1
