"""In a real Chromium: shared links' cards, the whole flow with JavaScript off, the county map
against /stats, and axe-core on the new pages and states.

The app is served by uvicorn with its mail worker sending to a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect

from api.db import Database
from api.web.momentum import county_key
from tests.admin.helpers import auth, make_key
from tests.conftest import SmtpSink
from tests.petitions.helpers import SIGN_URL, signer
from tests.web.conftest import SLUG, LiveServer
from tests.web.test_browser import (
    axe_violations,
    fill_form,
    link_from,
    wait_for_mail,
)

pytestmark = pytest.mark.browser


def meta(page: Any, key: str) -> str:
    attribute = "property" if key.startswith("og:") else "name"
    value = page.locator(f'meta[{attribute}="{key}"]').get_attribute("content")
    assert value, key
    return str(value)


def test_shared_url_card_and_image_resolve_to_absolute_urls(
    mail_server: LiveServer,
    new_page: Any,
) -> None:
    page = new_page(java_script_enabled=False)  # as a link-preview crawler sees it
    page.goto(mail_server.url + f"/petitions/{SLUG}?ref=whatsapp")
    url = meta(page, "og:url")
    assert url == f"{mail_server.url}/petitions/{SLUG}"
    assert page.locator('link[rel="canonical"]').get_attribute("href") == url
    assert meta(page, "twitter:card") == "summary_large_image"
    assert meta(page, "og:title") == "Set 12 as the minimum age of arrest in Florida"
    assert meta(page, "description") == meta(page, "og:description")
    for key in ("og:image", "twitter:image"):
        image_url = meta(page, key)
        assert image_url == f"{mail_server.url}/petitions/{SLUG}/share.png"
        answer = page.request.get(image_url)
        assert answer.status == 200
        assert answer.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(answer.body()))
        assert (image.format, image.size) == ("PNG", (1200, 630))
    assert page.request.get(url).status == 200
    for icon in page.locator('link[rel="icon"]').all():
        href = str(icon.get_attribute("href"))
        assert not href.startswith("data:")
        answer = page.request.get(mail_server.url + href)
        assert answer.status == 200
        assert answer.headers["content-type"].startswith(("image/svg+xml", "image/x-icon"))
    assert page.request.get(mail_server.url + "/robots.txt").status == 200


def test_without_javascript_sign_confirm_from_the_email_and_withdraw(
    mail_server: LiveServer,
    smtp_server: SmtpSink,
    new_page: Any,
) -> None:
    page = new_page(java_script_enabled=False)
    page.goto(mail_server.url + f"/petitions/{SLUG}?ref=email")
    expect(page.locator("#count-text")).to_have_text("0 verified signatures")

    # An empty form: the server shows each error next to its field.
    page.get_by_role("button", name="Sign the petition").click()
    expect(page.locator("#first_name-error")).to_have_text("Enter your first name.")
    expect(page.get_by_label("First name")).to_have_attribute("aria-invalid", "true")

    fill_form(page, "no.script@example.org")
    page.get_by_role("button", name="Sign the petition").click()
    done = page.locator("#sign-done")
    expect(done).to_be_visible()
    expect(done).to_contain_text("Check your email")
    expect(done).to_contain_text("no.script@example.org")
    for name in ("Share on WhatsApp", "Share on Facebook", "Share on X", "Share by email"):
        expect(page.get_by_role("link", name=name)).to_be_visible()
    expect(page.get_by_label("Link to the petition")).to_have_value(
        f"{mail_server.url}/petitions/{SLUG}?ref=copy"
    )
    expect(page.get_by_role("button", name="Share…")).to_be_hidden()  # needs the script

    mail = wait_for_mail(smtp_server, "no.script@example.org")
    page.goto(link_from(mail, mail_server.url, "/confirm"))
    # Without the script, opening the link only shows the button.
    assert httpx.get(f"{mail_server.url}/v1/petitions/{SLUG}/count").json()["verified"] == 0
    page.get_by_role("button", name="Confirm my signature").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your signature is confirmed")
    expect(page.locator("#token-status")).to_have_text(
        "Thank you! Your signature is confirmed and now counts."
    )
    expect(page.locator("#confirmed-count")).to_have_text("1 verified signature")
    expect(page.get_by_role("link", name="Share on WhatsApp")).to_be_visible()
    assert httpx.get(f"{mail_server.url}/v1/petitions/{SLUG}/count").json()["verified"] == 1

    page.goto(link_from(mail, mail_server.url, "/withdraw"))
    page.get_by_role("button", name="Withdraw my signature").click()
    expect(page.locator("#token-status")).to_have_text(
        "Your signature has been withdrawn and your details erased."
    )
    assert httpx.get(f"{mail_server.url}/v1/petitions/{SLUG}/count").json()["verified"] == 0


def confirm_by_api(server: LiveServer, smtp: SmtpSink, email: str, postal_code: str) -> None:
    body = signer(email=email, postal_code=postal_code)
    assert httpx.post(server.url + SIGN_URL, json=body).status_code == 202
    confirm = link_from(wait_for_mail(smtp, email), server.url, "/confirm")
    token = confirm.split("token=")[1]
    answer = httpx.post(server.url + "/v1/signatures/confirm", json={"token": token})
    assert answer.status_code == 200


def test_county_map_and_table_match_stats(
    mail_server: LiveServer,
    smtp_server: SmtpSink,
    new_page: Any,
    axe_script: Path,
) -> None:
    for n, zip_code in enumerate(("32801", "32803", "33130", "32301", "10001")):
        confirm_by_api(mail_server, smtp_server, f"map{n}@example.org", zip_code)
    page = new_page(bypass_csp=True)
    page.goto(mail_server.url + "/")
    stats = page.request.get(f"{mail_server.url}/v1/petitions/{SLUG}/stats").json()
    expected = {county_key(b["key"]): b["count"] for b in stats["by_florida_county"]}
    assert expected == {"orange": 2, "miami-dade": 1, "leon": 1}

    table = page.get_by_role("table", name="Confirmed signers by Florida county")
    expect(table).to_be_visible()
    rows = table.locator("tbody tr")
    shown = {
        county_key(rows.nth(i).get_by_role("rowheader").inner_text()): int(
            rows.nth(i).locator("td").inner_text().replace(",", "")
        )
        for i in range(rows.count())
    }
    assert shown == expected
    counties = page.locator("svg path.county")
    assert counties.count() == 67
    on_map = {
        county_key(str(path.get_attribute("data-county"))): int(
            str(path.get_attribute("data-count"))
        )
        for path in counties.all()
    }
    assert {name: n for name, n in on_map.items() if n} == expected
    expect(page.locator('path[data-county="Orange"]')).to_have_class(re.compile("county-shade-4"))
    expect(page.locator('path[data-county="Leon"]')).to_have_class(re.compile("county-shade-[123]"))
    expect(page.locator('path[data-county="Duval"]')).to_have_class(re.compile("county-shade-0"))
    expect(page.get_by_role("img", name=re.compile("Map of Florida's counties"))).to_be_visible()
    assert axe_violations(page, axe_script) == []


def test_no_accessibility_violations_on_about_and_thank_you_states(
    mail_server: LiveServer,
    clean_database: Database,
    smtp_server: SmtpSink,
    new_page: Any,
    axe_script: Path,
    screenshots: Path,
) -> None:
    for lang in ("en", "es"):
        page = new_page(viewport={"width": 375, "height": 812}, bypass_csp=True)
        page.goto(f"{mail_server.url}/about?lang={lang}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert axe_violations(page, axe_script) == []
        page.screenshot(path=str(screenshots / f"about-{lang}-phone.png"), full_page=True)

    # After signing (with the script, by a link shared on WhatsApp): the thank-you state.
    page = new_page(viewport={"width": 375, "height": 812}, bypass_csp=True)
    page.goto(mail_server.url + "/?ref=whatsapp")
    fill_form(page, "thanks@example.org")
    page.get_by_role("button", name="Sign the petition").click()
    expect(page.locator("#sign-done")).to_be_focused()
    expect(page.get_by_role("link", name="Share on WhatsApp")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert axe_violations(page, axe_script) == []
    page.locator("#sign-done").screenshot(path=str(screenshots / "signed-phone.png"))

    # After confirming: the page presses the button itself, then says so and offers sharing.
    mail = wait_for_mail(smtp_server, "thanks@example.org")
    page.goto(link_from(mail, mail_server.url, "/confirm"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your signature is confirmed")
    expect(page.locator("#token-status")).to_be_focused()
    copy = page.get_by_role("button", name="Copy link")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert axe_violations(page, axe_script) == []
    page.screenshot(path=str(screenshots / "confirmed-phone.png"), full_page=True)
    # The copy button is offered where the clipboard can be written (a secure context:
    # 127.0.0.1 counts as one).
    expect(copy).to_be_visible()
    # The script passed the link's channel to the API; staff see it counted, once confirmed.
    key = make_key(clean_database, "signatures:read")
    referrals = httpx.get(
        f"{mail_server.url}/v1/admin/petitions/{SLUG}/referrals", headers=auth(key)
    )
    assert referrals.json() == [{"channel": "whatsapp", "confirmed": 1}]


def test_without_javascript_manage_my_signatures(
    mail_server: LiveServer,
    smtp_server: SmtpSink,
    new_page: Any,
    axe_script: Path,
) -> None:
    confirm_by_api(mail_server, smtp_server, "manage.noscript@example.org", "32801")
    page = new_page(java_script_enabled=False)
    page.goto(mail_server.url + "/my-signatures")
    page.get_by_label("Email address").fill("manage.noscript@example.org")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.locator("#access-done")).to_contain_text("manage.noscript@example.org")

    # The second mail to this address (after the confirmation link) is the access link.
    deadline = time.monotonic() + 10
    while len(messages := smtp_server.to("manage.noscript@example.org")) < 2:
        assert time.monotonic() < deadline, "no access link mailed"
        page.wait_for_timeout(50)
    page.goto(link_from(messages[-1], mail_server.url, "/my-signatures"))
    page.get_by_role("button", name="Show my signatures").click()
    expect(page.locator("#mine-status")).to_have_text("1 signature found.")
    page.get_by_role("button", name="Withdraw").click()
    page.get_by_role("button", name="Yes, withdraw it").click()
    expect(page.locator("#mine-status")).to_contain_text("has been withdrawn")
    assert httpx.get(f"{mail_server.url}/v1/petitions/{SLUG}/count").json()["verified"] == 0

    # The server-rendered list passes axe-core too: the same HTML, in a page where axe can be
    # injected (set_content keeps this page's address, so its stylesheet loads).
    checked = new_page(bypass_csp=True)
    checked.goto(mail_server.url + "/my-signatures")
    checked.set_content(page.content())
    assert axe_violations(checked, axe_script) == []
