"""The signing page in a real Chromium: sign, confirm by email, watch the count move live.

Each test serves the real app with uvicorn (SQLite or PostgreSQL, as the suite runs) and the
real mail worker sending to a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from api.abuse.models import AccessToken
from api.db import Database
from api.mail.worker import MailWorker
from tests.conftest import SmtpSink, link_in
from tests.petitions.helpers import SIGN_URL, signer
from tests.web.conftest import SLUG, LiveServer

pytestmark = pytest.mark.browser

# WCAG 2.0-2.2 A and AA (2.2 adds target sizes), and axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def wait_for_mail(smtp: SmtpSink, to: str, timeout: float = 10.0) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = smtp.to(to)
        if messages:
            return messages[-1]
        time.sleep(0.05)
    raise AssertionError(f"no mail to {to} within {timeout} s")


def link_from(message: EmailMessage, base_url: str, path: str) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = re.search(re.escape(base_url + path) + r"\?token=[A-Za-z0-9_-]+", body.get_content())
    assert match, f"no {base_url}{path} link in the mail"
    return match.group(0)


def fill_form(page: Any, email: str, postal_code: str = "32801") -> None:
    page.get_by_label("First name").fill("Ana")
    page.get_by_label("Last name").fill("Quintanilla")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("ZIP code (or postal code)").fill(postal_code)
    page.get_by_label("Country").select_option("US")
    page.get_by_label("Comment (optional)").fill("No six-year-old belongs in a police car.")
    page.get_by_label("Show my name publicly").check()


def axe_violations(page: Any, axe_script: Path) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the page as it is now."""
    page.add_script_tag(path=str(axe_script))
    result = page.evaluate(
        """async (tags) => await axe.run(document, {
            runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]})""",
        AXE_TAGS,
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_sign_confirm_by_email_and_see_the_count_rise_live(
    mail_server: LiveServer, smtp_server: SmtpSink, new_page: Any
) -> None:
    page = new_page()
    page.goto(mail_server.url + "/")
    count = page.locator("#count-text")
    expect(count).to_have_text("0 verified signatures")
    # The live count is on its event stream before anything happens.
    expect(page.locator("html")).to_have_attribute("data-live", "events")

    fill_form(page, "ana.e2e@example.org")
    page.get_by_role("button", name="Sign the petition").click()
    done = page.locator("#sign-done")
    expect(done).to_be_visible()
    expect(done).to_contain_text("Check your email")
    expect(done).to_contain_text("ana.e2e@example.org")
    expect(done).to_be_focused()

    confirm_url = link_from(
        wait_for_mail(smtp_server, "ana.e2e@example.org"), mail_server.url, "/confirm"
    )
    confirm_page = new_page()
    confirm_page.goto(confirm_url)
    expect(confirm_page.locator("#token-status")).to_have_text(
        "Thank you! Your signature is confirmed and now counts."
    )
    expect(confirm_page.get_by_role("link", name="Back to the petition")).to_have_attribute(
        "href", f"/petitions/{SLUG}"
    )

    # The first page, never reloaded, hears the new count over Server-Sent Events.
    expect(count).to_have_text("1 verified signature", timeout=10_000)
    progress = page.get_by_role("progressbar")
    expect(progress).to_have_attribute("aria-valuenow", "1")
    # The bar shows the way to the next milestone (10), not to the far goal.
    expect(progress).to_have_attribute("aria-valuetext", "1 of 10 signatures")
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    # ... and screen readers are told, through a polite live region.
    expect(page.locator("#count-live")).to_have_text("1 verified signature")

    # The confirmed page names the petition, shows the count and offers the share actions.
    expect(confirm_page.get_by_role("heading", level=1)).to_have_text("Your signature is confirmed")
    expect(confirm_page.locator(".confirmed-title")).to_have_text(
        "Petition: Set 12 as the minimum age of arrest in Florida"
    )
    expect(confirm_page.locator("#confirmed-count")).to_have_text("1 verified signature")
    expect(confirm_page.get_by_role("link", name="Share on WhatsApp")).to_be_visible()
    # Opening the link again says so plainly.
    confirm_page.goto(confirm_url)
    expect(confirm_page.locator("#token-status")).to_have_text(
        "Your signature was already confirmed. Thank you!"
    )


def test_field_errors_are_shown_next_to_their_fields(live_server: LiveServer, new_page: Any):
    page = new_page()
    page.goto(live_server.url + f"/petitions/{SLUG}")

    # Client-side: nothing filled in; the first missing field gets focus.
    page.get_by_role("button", name="Sign the petition").click()
    first_name = page.get_by_label("First name")
    expect(first_name).to_be_focused()
    expect(first_name).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#first_name-error")).to_have_text("Enter your first name.")
    expect(page.get_by_role("status").first).to_have_text("Please correct the fields marked below.")

    # Server-side: a well-formed ZIP that is not in use is refused by the API (422), and its
    # message is shown next to the ZIP field, which is described by it and focused.
    fill_form(page, "zip.error@example.org", postal_code="00000")
    with page.expect_response(lambda r: r.url.endswith("/signatures")) as answer:
        page.get_by_role("button", name="Sign the petition").click()
    assert answer.value.status == 422
    postal = page.get_by_label("ZIP code (or postal code)")
    expect(postal).to_be_focused()
    expect(postal).to_have_attribute("aria-invalid", "true")
    expect(postal).to_have_attribute("aria-describedby", "postal_code-error postal_code-hint")
    error = page.locator("#postal_code-error")
    expect(error).to_be_visible()
    assert error.inner_text().strip()
    expect(first_name).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#first_name-error")).to_be_hidden()


def test_a_network_failure_is_retried_with_the_same_idempotency_key(
    live_server: LiveServer, new_page: Any
) -> None:
    page = new_page()
    page.goto(live_server.url + "/")
    keys: list[str] = []

    def flaky(route: Any) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            route.abort("connectionreset")  # the request never got an answer
        else:
            route.continue_()

    page.route("**/signatures", flaky)
    fill_form(page, "retry@example.org")
    submit = page.get_by_role("button", name="Sign the petition")
    submit.click()
    # While it waits to retry, the button cannot send a second signature.
    expect(page.get_by_role("status").first).to_have_text("Connection problem. Trying again…")
    expect(submit).to_be_disabled()
    expect(page.locator("#sign-done")).to_be_visible()
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", keys[0]
    )


def test_keyboard_only_signing(live_server: LiveServer, new_page: Any) -> None:
    page = new_page()
    page.goto(live_server.url + "/")
    # The first Tab reaches the skip link, visibly focused; Enter moves to the main content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "first_name":
            break
    assert page.evaluate("document.activeElement.id") == "first_name"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"

    for text in ("Luis", "Ortega", "luis.keys@example.org", "32801"):
        page.keyboard.type(text)
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "country"
    page.keyboard.press("Tab")  # the comment is optional
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "display_publicly"
    page.keyboard.press("Space")
    expect(page.get_by_label("Show my name publicly")).to_be_checked()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "sign-submit"
    page.keyboard.press("Enter")
    expect(page.locator("#sign-done")).to_be_focused()


def test_spanish_page_by_accept_language_and_by_switch(
    live_server: LiveServer, new_page: Any
) -> None:
    page = new_page(locale="es-US")  # Chromium sends Accept-Language: es-US
    page.goto(live_server.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name="Firme la petición")).to_be_visible()
    expect(page.get_by_label("Correo electrónico")).to_be_visible()
    expect(page.get_by_label("País")).to_have_value("US")
    expect(page.locator("#country option[value=US]")).to_have_text("Estados Unidos")
    page.get_by_role("button", name="Firmar la petición").click()
    expect(page.locator("#first_name-error")).to_have_text("Escriba su nombre.")

    # The switch: an English browser chooses Spanish, and links keep the choice.
    page = new_page(locale="en-US")
    page.goto(live_server.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("navigation", name="Language").get_by_role("link", name="Español").click()
    expect(page).to_have_url(re.compile(r"\?lang=es$"))
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(
        page.get_by_role("link", name="Campaña por una edad mínima de arresto")
    ).to_have_attribute("href", "/?lang=es")


def test_no_serious_accessibility_violations_and_screenshots(
    live_server: LiveServer, new_page: Any, axe_script: Path, screenshots: Path
) -> None:
    # axe-core is injected as an inline script, which the page's CSP rightly forbids: the
    # check runs in a context that bypasses CSP (the app's own scripts are external files).
    for name, size in (("phone", (375, 812)), ("desktop", (1280, 800))):
        page = new_page(viewport={"width": size[0], "height": size[1]}, bypass_csp=True)
        page.goto(live_server.url + "/")
        expect(page.locator("#sign-fields")).to_be_enabled()
        assert (
            page.evaluate("document.documentElement.scrollWidth") <= size[0]
        )  # no sideways scroll
        page.screenshot(path=str(screenshots / f"petition-{name}.png"))
        page.screenshot(path=str(screenshots / f"petition-{name}-full.png"), full_page=True)
        assert axe_violations(page, axe_script) == []

        # With errors shown next to fields.
        page.get_by_role("button", name="Sign the petition").click()
        expect(page.get_by_label("First name")).to_be_focused()
        assert axe_violations(page, axe_script) == []
        page.screenshot(path=str(screenshots / f"petition-errors-{name}.png"))

    page = new_page(viewport={"width": 375, "height": 812}, bypass_csp=True, locale="es-US")
    page.goto(live_server.url + "/?lang=es")
    expect(page.locator("#sign-fields")).to_be_enabled()
    assert axe_violations(page, axe_script) == []
    page.screenshot(path=str(screenshots / "petition-es-phone.png"))

    # The confirm page, after the API answered (an unknown token), and the withdraw page.
    for path in ("/confirm?token=" + "x" * 43, "/withdraw?token=" + "x" * 43):
        page = new_page(viewport={"width": 375, "height": 812}, bypass_csp=True)
        page.goto(live_server.url + path)
        if path.startswith("/confirm"):
            expect(page.locator("#token-status")).to_have_text(
                "We do not recognise this link. Check that you opened the whole link from the "
                "email."
            )
        else:
            expect(page.get_by_role("button", name="Withdraw my signature")).to_be_enabled()
        assert axe_violations(page, axe_script) == []
        page.screenshot(path=str(screenshots / f"{path[1:].split('?')[0]}-phone.png"))


def test_withdraw_takes_a_click_and_says_what_happened(
    mail_server: LiveServer, smtp_server: SmtpSink, new_page: Any
) -> None:
    page = new_page()
    page.goto(mail_server.url + "/")
    fill_form(page, "changed.mind@example.org")
    page.get_by_role("button", name="Sign the petition").click()
    expect(page.locator("#sign-done")).to_be_visible()
    mail = wait_for_mail(smtp_server, "changed.mind@example.org")

    page.goto(link_from(mail, mail_server.url, "/confirm"))
    expect(page.locator("#token-status")).to_have_text(re.compile("confirmed"))

    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if r.method == "POST" else None)
    page.goto(link_from(mail, mail_server.url, "/withdraw"))
    button = page.get_by_role("button", name="Withdraw my signature")
    expect(button).to_be_enabled()
    page.wait_for_timeout(300)
    assert requests == []  # opening the link withdraws nothing
    button.click()
    status = page.locator("#token-status")
    expect(status).to_have_text("Your signature has been withdrawn and your details erased.")
    expect(status).to_be_focused()
    expect(button).to_be_hidden()
    page.goto(link_from(mail, mail_server.url, "/withdraw"))
    page.get_by_role("button", name="Withdraw my signature").click()
    expect(status).to_have_text("This signature was already withdrawn.")


def test_count_falls_back_to_polling_when_the_event_stream_fails(
    live_server: LiveServer, new_page: Any
) -> None:
    page = new_page()
    polled: list[str] = []
    page.route("**/events", lambda route: route.fulfill(status=503, body="unavailable"))

    def count(route: Any) -> None:
        polled.append(route.request.url)
        route.fulfill(json={"verified": 42, "goal": 10000, "updated_at": "2026-11-22T00:00:00Z"})

    page.route("**/count", count)
    page.goto(live_server.url + "/")
    expect(page.locator("html")).to_have_attribute("data-live", "polling")
    expect(page.locator("#count-text")).to_have_text("42 verified signatures")
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "42")
    assert polled == [f"{live_server.url}/v1/petitions/{SLUG}/count"]


# --- /my-signatures: a signer's own signatures ------------------------------------------------

TITLE = "Set 12 as the minimum age of arrest in Florida"


def sign_by_api(
    server: LiveServer, smtp: SmtpSink, worker: MailWorker, email: str, confirm: bool
) -> None:
    """Sign (and confirm) through the API, as another frontend would."""
    with httpx.Client(base_url=server.url, timeout=10) as api:
        assert api.post(SIGN_URL, json=signer(email=email)).status_code == 202
        worker.drain()
        if confirm:
            token = link_in(smtp.to(email)[-1], "/confirm")
            answer = api.post("/v1/signatures/confirm", json={"token": token})
            assert answer.json()["status"] == "confirmed", answer.text


def api_count(server: LiveServer) -> int:
    response = httpx.get(f"{server.url}/v1/petitions/{SLUG}/count", timeout=10)
    verified: int = response.json()["verified"]
    return verified


def access_link(server: LiveServer, smtp: SmtpSink, worker: MailWorker, email: str) -> str:
    """The /my-signatures link of the newest mail to `email`, once the worker has sent it."""
    worker.drain()
    return link_from(smtp.to(email)[-1], server.url, "/my-signatures")


def test_manage_my_signatures_from_the_emailed_link(
    live_server: LiveServer, smtp_server: SmtpSink, mail_worker: MailWorker, new_page: Any
) -> None:
    email = "ana.self@example.org"
    sign_by_api(live_server, smtp_server, mail_worker, email, confirm=True)
    assert api_count(live_server) == 1

    petition = new_page()
    petition.goto(live_server.url + "/")
    count = petition.locator("#count-text")
    expect(count).to_have_text("1 verified signature")
    expect(petition.locator("html")).to_have_attribute("data-live", "events")

    # From the petition page, ask for a link to my signatures.
    blocked: list[str] = []
    page = new_page()
    page.on("console", lambda m: blocked.append(m.text) if "Security Policy" in m.text else None)
    page.goto(live_server.url + f"/petitions/{SLUG}")
    page.get_by_role("link", name="Already signed? Manage your signature").click()
    expect(page).to_have_url(live_server.url + "/my-signatures")
    expect(page.get_by_role("heading", level=1)).to_have_text("Manage your signature")
    page.get_by_label("Email address").fill(email)
    with page.expect_response(lambda r: r.url.endswith("/v1/signatures/access")) as answer:
        page.get_by_role("button", name="Email me a link").click()
    assert answer.value.status == 202
    assert answer.value.request.post_data_json == {"email": email, "locale": "en"}
    done = page.locator("#access-done")
    expect(done).to_be_focused()
    expect(done).to_contain_text("Check your email")
    expect(done).to_contain_text(email)

    link = access_link(live_server, smtp_server, mail_worker, email)
    token = link.split("token=", 1)[1]

    # Open the link: the signature is listed; the token went in one POST body, nowhere else.
    requests: list[tuple[str, str, str]] = []
    mine = new_page()
    mine.on("console", lambda m: blocked.append(m.text) if "Security Policy" in m.text else None)
    mine.on(
        "request",
        lambda r: requests.append((r.method, r.url, (r.post_data or "") + str(r.headers))),
    )
    mine.goto(link)
    status = mine.locator("#mine-status")
    expect(status).to_have_text("1 signature found.")
    items = mine.locator("#mine-list > li")
    expect(items).to_have_count(1)
    item = items.first
    expect(item.get_by_role("link", name=TITLE)).to_have_attribute("href", f"/petitions/{SLUG}")
    expect(item).to_contain_text("Confirmed: it counts.")
    expect(item).to_contain_text("Signed on ")
    carrying = [(method, url) for method, url, rest in requests if token in url + rest]
    assert carrying == [("GET", link), ("POST", live_server.url + "/v1/signatures/mine")]

    # "Withdraw" asks first; Cancel (or Escape) withdraws nothing and returns to the button.
    withdraw = item.get_by_role("button", name="Withdraw")
    expect(withdraw).to_have_accessible_description(TITLE)
    withdraw.click()
    yes = item.get_by_role("button", name="Yes, withdraw it")
    expect(yes).to_be_focused()
    expect(item.get_by_role("group")).to_have_accessible_name(
        f"Withdraw your signature from “{TITLE}”? It will no longer count and your details will "
        "be erased. You can sign again later."
    )
    item.get_by_role("button", name="Cancel").click()
    expect(withdraw).to_be_focused()
    expect(yes).to_be_hidden()
    withdraw.click()
    expect(yes).to_be_focused()
    mine.keyboard.press("Escape")
    expect(withdraw).to_be_focused()
    assert not [url for _, url, _ in requests if url.endswith("/withdraw")]
    assert api_count(live_server) == 1

    withdraw.click()
    with mine.expect_response(lambda r: r.url.endswith("/v1/signatures/mine/withdraw")) as done_:
        yes.click()
    assert done_.value.json() == {"status": "withdrawn", "petition_slug": SLUG}
    expect(status).to_have_text(
        f"Your signature on “{TITLE}” has been withdrawn and your details erased."
    )
    expect(status).to_be_focused()
    expect(items).to_have_count(0)
    expect(mine.locator("#mine-empty")).to_be_visible()

    # The count drops: live on the petition page, never reloaded, and in the API.
    expect(count).to_have_text("0 verified signatures", timeout=10_000)
    assert api_count(live_server) == 0

    # The link still opens, and lists nothing now.
    mine.reload()
    expect(status).to_have_text("No signatures found.")
    expect(mine.locator("#mine-empty")).to_be_visible()
    assert blocked == []


def test_my_signatures_states_are_accessible(
    live_server: LiveServer,
    smtp_server: SmtpSink,
    mail_worker: MailWorker,
    clean_database: Database,
    new_page: Any,
    axe_script: Path,
    screenshots: Path,
) -> None:
    def open_page(path: str, **options: Any) -> Any:
        # bypass_csp: axe-core is injected inline (see the accessibility test above).
        page = new_page(viewport={"width": 375, "height": 812}, bypass_csp=True, **options)
        page.goto(path if path.startswith("http") else live_server.url + path)
        return page

    # The form asking for a link, then with its error, then sent.
    page = open_page("/my-signatures")
    expect(page.locator("#access-fields")).to_be_enabled()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert axe_violations(page, axe_script) == []
    page.screenshot(path=str(screenshots / "my-signatures-request-phone.png"))
    page.get_by_role("button", name="Email me a link").click()
    email = page.get_by_label("Email address")
    expect(email).to_be_focused()
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_attribute("aria-describedby", "email-error email-hint")
    expect(page.locator("#email-error")).to_have_text("Enter your email address.")
    assert axe_violations(page, axe_script) == []
    email.fill("nobody.signed@example.org")  # unknown: the page says the same as for anyone
    page.get_by_role("button", name="Email me a link").click()
    expect(page.locator("#access-done")).to_be_focused()
    assert axe_violations(page, axe_script) == []

    # In Spanish, by the browser's language.
    page = open_page("/my-signatures", locale="es-US")
    expect(page.get_by_role("heading", level=1)).to_have_text("Gestione su firma")
    page.get_by_role("button", name="Envíenme un enlace").click()
    expect(page.locator("#email-error")).to_have_text("Escriba su correo electrónico.")
    assert axe_violations(page, axe_script) == []

    # The list, with a pending signature, and its confirm step open; in Spanish by the link.
    signer_email = "pending.signer@example.org"
    sign_by_api(live_server, smtp_server, mail_worker, signer_email, confirm=False)
    httpx.post(
        f"{live_server.url}/v1/signatures/access",
        json={"email": signer_email, "locale": "es"},
        timeout=10,
    ).raise_for_status()
    link = access_link(live_server, smtp_server, mail_worker, signer_email)
    page = open_page(link + "&lang=es")
    item = page.locator("#mine-list > li")
    expect(item).to_contain_text("Sin confirmar")
    expect(page.locator("#mine-status")).to_have_text("1 firma encontrada.")
    assert axe_violations(page, axe_script) == []
    item.get_by_role("button", name="Retirar").click()
    expect(item.get_by_role("button", name="Sí, retirarla")).to_be_focused()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert axe_violations(page, axe_script) == []
    page.screenshot(path=str(screenshots / "my-signatures-confirm-es-phone.png"))

    # Desktop, English.
    page = new_page(bypass_csp=True)
    page.goto(link)
    expect(page.locator("#mine-list > li")).to_contain_text("Not confirmed yet")
    assert axe_violations(page, axe_script) == []
    page.screenshot(path=str(screenshots / "my-signatures-desktop.png"))

    # An expired link, and one we never sent.
    with clean_database.session(write=True) as session:
        session.execute(
            update(AccessToken).values(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        )
    page = open_page(link)
    status = page.locator("#mine-status")
    expect(status).to_have_text(
        "This link has expired: links to your signatures work for 24 hours."
    )
    expect(status).to_be_focused()
    expect(page.get_by_role("link", name="Ask for a new link")).to_have_attribute(
        "href", "/my-signatures"
    )
    expect(page.locator("#mine-list")).to_be_hidden()
    assert axe_violations(page, axe_script) == []
    page.screenshot(path=str(screenshots / "my-signatures-expired-phone.png"))

    page = open_page("/my-signatures?token=" + "x" * 43)
    expect(page.locator("#mine-status")).to_have_text(
        "We do not recognise this link. Check that you opened the whole link from the email."
    )
    expect(page.get_by_role("link", name="Ask for a new link")).to_be_visible()
    assert axe_violations(page, axe_script) == []


def test_server_field_errors_are_shown_in_the_page_language(
    live_server: LiveServer, new_page: Any
) -> None:
    # The page asks the API for its messages in its own language (Accept-Language), and shows
    # them as sent: the API's Spanish message, not a generic one.
    page = new_page(locale="es-US")
    page.goto(live_server.url + f"/petitions/{SLUG}")
    page.locator("#first_name").fill("Ana")
    page.locator("#last_name").fill("Quintanilla")
    page.locator("#email").fill("zip.es.error@example.org")
    page.locator("#postal_code").fill("00000")
    with page.expect_response(lambda r: r.url.endswith("/signatures")) as answer:
        page.get_by_role("button", name="Firmar la petición").click()
    assert answer.value.status == 422
    assert answer.value.request.headers["accept-language"] == "es"
    expect(page.locator("#postal_code-error")).to_have_text(
        "No es un código postal de EE. UU. en uso."
    )
