"""Sharing, the pages without JavaScript, momentum and the about page, over HTTP (no browser).

The app is exercised through TestClient; mail goes to a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

import io
import re
import time
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.config import Settings
from api.db import Database
from api.mail.worker import MailWorker
from api.main import create_app
from api.petitions.schemas import StatBucket
from api.web.forms import FORM_TOKEN_HOURS, form_token, valid_form_token
from api.web.momentum import county_key, county_map, florida_counties, next_milestone
from tests.admin.helpers import auth, make_key
from tests.conftest import SmtpSink, link_in
from tests.petitions.helpers import SIGN_URL, signer
from tests.web.conftest import SLUG

BASE = "http://127.0.0.1:8000"  # the test settings' PUBLIC_BASE_URL (the default)
PUBLIC_PAGES = ["/", f"/petitions/{SLUG}", "/confirm", "/withdraw", "/my-signatures", "/about"]
SIGN_PAGE = f"/petitions/{SLUG}/sign"


class Tags(HTMLParser):
    """The page's <meta>, <link> and <a> tags, and its form fields."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: list[dict[str, str | None]] = []
        self.anchors: list[str] = []
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "meta" and (a.get("property") or a.get("name")):
            self.meta[a.get("property") or a.get("name") or ""] = a.get("content") or ""
        elif tag == "link":
            self.links.append(a)
        elif tag == "a" and a.get("href"):
            self.anchors.append(a["href"] or "")
        elif tag in ("input", "textarea", "select") and a.get("name"):
            self.inputs[a["name"] or ""] = a


def sign_form(client: TestClient, lang: str = "") -> dict[str, str]:
    """The hidden fields of the petition page's form, as a browser would post them."""
    page = Tags(client.get(f"/petitions/{SLUG}" + (f"?lang={lang}" if lang else "")).text)
    return {name: page.inputs[name].get("value") or "" for name in ("form_token", "ref")}


def form_values(**overrides: str) -> dict[str, str]:
    values = {
        "first_name": "Ana",
        "last_name": "Quintanilla",
        "email": "ana.form@example.org",
        "postal_code": "32801",
        "country": "US",
        "comment": "No six-year-old belongs in a police car.",
        "display_publicly": "on",
        "website": "",
    }
    values.update(overrides)
    return values


@pytest.fixture
def mail_client(mail_settings: Settings, clean_database: Database):
    with TestClient(create_app(mail_settings)) as client:
        yield client


# --- share cards, the share image, favicon, robots.txt -------------------------------------


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_every_public_page_has_a_share_card_with_absolute_urls(client: TestClient, path: str):
    response = client.get(path)
    assert response.status_code == 200
    tags = Tags(response.text)
    for name in ("og:url", "og:image", "twitter:image"):
        assert tags.meta[name].startswith(BASE + "/"), (name, tags.meta[name])
    assert tags.meta["og:title"] and tags.meta["og:description"] and tags.meta["description"]
    assert tags.meta["twitter:title"] == tags.meta["og:title"]
    assert tags.meta["og:type"] == "website"
    [canonical] = [link for link in tags.links if link.get("rel") == "canonical"]
    assert canonical["href"] == tags.meta["og:url"]
    assert "?token" not in (canonical["href"] or "")
    icons = [link["href"] or "" for link in tags.links if link.get("rel") == "icon"]
    assert icons and not any(href.startswith("data:") for href in icons)
    assert "/about" in tags.anchors  # the footer


def test_petition_card_is_large_with_the_share_image(client: TestClient) -> None:
    tags = Tags(client.get("/").text)
    assert tags.meta["og:url"] == f"{BASE}/petitions/{SLUG}"
    assert tags.meta["og:image"] == f"{BASE}/petitions/{SLUG}/share.png"
    assert tags.meta["twitter:card"] == "summary_large_image"
    assert (tags.meta["og:image:width"], tags.meta["og:image:height"]) == ("1200", "630")
    assert tags.meta["og:title"] == "Set 12 as the minimum age of arrest in Florida"
    spanish = Tags(client.get(f"/petitions/{SLUG}?lang=es").text)
    assert spanish.meta["og:url"] == f"{BASE}/petitions/{SLUG}?lang=es"
    assert spanish.meta["og:image"] == f"{BASE}/petitions/{SLUG}/share.png?lang=es"
    assert spanish.meta["og:locale"] == "es_US"


def test_share_image_is_a_1200x630_png_cached_with_an_etag(client: TestClient) -> None:
    response = client.get(f"/petitions/{SLUG}/share.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "public, max-age=300"
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.size) == ("PNG", (1200, 630))
    etag = response.headers["etag"]
    again = client.get(f"/petitions/{SLUG}/share.png", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert client.get("/petitions/no-such-petition/share.png").status_code == 404
    # Made-up slugs are not kept: only petitions that exist have a cached image.
    kept = client.app.state.caches["share_images"]._values  # type: ignore[attr-defined]
    assert list(kept) == [f"en:{SLUG}"]


def test_share_image_shows_the_count_drawn_again_after_its_interval(
    settings: Settings, clean_database: Database
) -> None:
    app = create_app(settings.model_copy(update={"share_image_seconds": 1}))
    with TestClient(app) as client:
        first = client.get(f"/petitions/{SLUG}/share.png")
        cached = client.get(f"/petitions/{SLUG}/share.png")
        assert cached.headers["etag"] == first.headers["etag"]
        assert first.headers["cache-control"] == "public, max-age=1"
        confirm_one(client, app.state.database, "ana.image@example.org")
        time.sleep(1.1)
        redrawn = client.get(f"/petitions/{SLUG}/share.png")
        assert redrawn.headers["etag"] != first.headers["etag"]
        assert Image.open(io.BytesIO(redrawn.content)).size == (1200, 630)


def confirm_one(client: TestClient, database: Database, email: str, **overrides: Any) -> None:
    """Sign through the API and confirm with the token read from the outbox row's link."""
    from sqlmodel import select

    from api.mail.models import MailMessage

    assert client.post(SIGN_URL, json=signer(email=email, **overrides)).status_code == 202
    with database.session() as session:
        row = session.exec(select(MailMessage).where(MailMessage.to_address == email)).first()
        assert row is not None
        token = row.payload["confirm_url"].split("token=")[1].split("&")[0]
    confirmed = client.post("/v1/signatures/confirm", json={"token": token})
    assert confirmed.status_code == 200, confirmed.text


def test_favicon_and_robots(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert Image.open(io.BytesIO(icon.content)).format == "ICO"
    robots = client.get("/robots.txt")
    assert robots.status_code == 200 and robots.headers["content-type"].startswith("text/plain")
    lines = robots.text.splitlines()
    assert "Allow: /" in lines
    for path in ("/confirm", "/withdraw", "/my-signatures", "/v1/admin"):
        assert f"Disallow: {path}" in lines


# --- signing without JavaScript ------------------------------------------------------------


def test_signing_by_form_post_shows_the_thank_you_state_with_share_links(
    mail_client: TestClient, smtp_server: SmtpSink, mail_worker: MailWorker
) -> None:
    hidden = sign_form(mail_client)
    response = mail_client.post(SIGN_PAGE, data={**form_values(), **hidden})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    html = unescape(response.text)
    assert "Check your email" in html and "ana.form@example.org" in html
    assert 'id="sign-form"' not in html  # the form gives way to the thank-you state
    share = Tags(response.text).anchors
    petition_url = f"{BASE}/petitions/{SLUG}"
    for channel, prefix in (
        ("whatsapp", "https://wa.me/?text="),
        ("facebook", "https://www.facebook.com/sharer/sharer.php?u="),
        ("x", "https://x.com/intent/post?text="),
        ("email", "mailto:?subject="),
    ):
        [link] = [href for href in share if href.startswith(prefix)]
        assert (
            f"{petition_url}?ref={channel}".replace(":", "%3A")
            .replace("/", "%2F")
            .replace("?", "%3F")
            .replace("=", "%3D")
            in link
        ), link
    assert f'value="{petition_url}?ref=copy"' in response.text
    assert mail_worker.drain() == 1
    [message] = smtp_server.to("ana.form@example.org")
    assert "/confirm?token=" in message.get_body(preferencelist=("plain",)).get_content()


def test_form_errors_are_shown_next_to_fields_with_the_values_kept(client: TestClient) -> None:
    hidden = sign_form(client)
    response = client.post(
        SIGN_PAGE,
        data={
            **form_values(first_name="", postal_code="00000", comment="Kept, as typed"),
            **hidden,
        },
    )
    assert response.status_code == 422
    page = Tags(response.text)
    assert "Enter your first name." in response.text
    assert page.inputs["first_name"]["aria-invalid"] == "true"
    assert page.inputs["first_name"]["aria-describedby"] == "first_name-error"
    assert page.inputs["email"]["value"] == "ana.form@example.org"
    assert "Kept, as typed</textarea>" in response.text
    assert "Please correct the fields marked below." in response.text
    # Filled, but not a ZIP in use: the API's own message, as the page's script shows it.
    response = client.post(SIGN_PAGE, data={**form_values(postal_code="00000"), **hidden})
    assert response.status_code == 422
    assert "Is not a US ZIP code in use." in response.text
    assert Tags(response.text).inputs["postal_code"]["aria-invalid"] == "true"
    spanish = client.post(
        SIGN_PAGE + "?lang=es",
        data={**form_values(email="not-an-email"), **sign_form(client, "es")},
    )
    assert spanish.status_code == 422
    assert (
        # The API's own message in the page's language, as the page's script shows it.
        '<p class="field-error" id="email-error">No es una dirección de correo electrónico '
        "válida.</p>" in spanish.text
    )


def test_forged_or_stale_form_posts_are_refused(client: TestClient, settings: Settings) -> None:
    hidden = sign_form(client)
    cross_site = client.post(
        SIGN_PAGE, data={**form_values(), **hidden}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross_site.status_code == 403
    assert "This form has expired" in cross_site.text
    other_origin = client.post(
        SIGN_PAGE, data={**form_values(), **hidden}, headers={"Origin": "https://evil.example"}
    )
    assert other_origin.status_code == 403
    no_token = client.post(SIGN_PAGE, data=form_values())
    assert no_token.status_code == 403
    stale = form_token(settings.secret(), f"sign|{SLUG}", time.time() - FORM_TOKEN_HOURS * 3600)
    assert client.post(SIGN_PAGE, data={**form_values(), "form_token": stale}).status_code == 403
    ours = client.post(
        SIGN_PAGE,
        data={**form_values(), **hidden},
        headers={"Sec-Fetch-Site": "same-origin", "Origin": BASE},
    )
    assert ours.status_code == 200
    # Without Fetch Metadata, the origin the request was sent to is ours too (a site reached
    # by another name than PUBLIC_BASE_URL, e.g. localhost).
    same_host = client.post(
        SIGN_PAGE,
        data={**form_values(email="b@example.org"), **hidden},
        headers={"Origin": "http://testserver"},
    )
    assert same_host.status_code == 200


def test_form_token_is_signed_per_petition_and_expires() -> None:
    secret = b"k" * 32
    now = time.time()
    token = form_token(secret, "sign|a", now)
    assert valid_form_token(secret, "sign|a", token, now)
    assert valid_form_token(secret, "sign|a", token, now + (FORM_TOKEN_HOURS - 1) * 3600)
    assert not valid_form_token(secret, "sign|a", token, now + FORM_TOKEN_HOURS * 3600 + 1)
    assert not valid_form_token(secret, "sign|b", token, now)
    assert not valid_form_token(b"other" * 8, "sign|a", token, now)
    assert not valid_form_token(secret, "sign|a", "x.y", now)


def test_form_honeypot_answers_as_usual_and_stores_nothing(
    mail_client: TestClient, smtp_server: SmtpSink, mail_worker: MailWorker
) -> None:
    response = mail_client.post(
        SIGN_PAGE, data={**form_values(website="https://spam.example"), **sign_form(mail_client)}
    )
    assert response.status_code == 200
    assert "Check your email" in response.text
    assert mail_worker.drain() == 0
    assert smtp_server.to("ana.form@example.org") == []


def test_countries_are_named_in_the_page_language(client: TestClient) -> None:
    english = client.get("/").text
    assert '<option value="US" selected>United States</option>' in english
    assert '<option value="DE">Germany</option>' in english
    spanish = client.get("/?lang=es").text
    assert '<option value="US" selected>Estados Unidos</option>' in spanish
    assert '<option value="DE">Alemania</option>' in spanish
    # The United States first, then by name.
    names = re.findall(r'<option value="([A-Z]{2})"', spanish)
    assert names[0] == "US" and names.index("DE") < names.index("AD")


# --- confirm and withdraw by form POST -----------------------------------------------------


def test_confirm_and_withdraw_by_form_post(
    mail_client: TestClient, smtp_server: SmtpSink, mail_worker: MailWorker
) -> None:
    assert mail_client.post(SIGN_URL, json=signer(email="ana.post@example.org")).status_code == 202
    mail_worker.drain()
    [message] = smtp_server.to("ana.post@example.org")
    # Opening the link shows a button; it confirms nothing by itself.
    opened = mail_client.get("/confirm?token=" + link_in(message, "/confirm"))
    assert 'id="confirm-button"' in opened.text
    assert mail_client.get(f"/v1/petitions/{SLUG}/count").json()["verified"] == 0

    confirmed = mail_client.post("/confirm", data={"token": link_in(message, "/confirm")})
    assert confirmed.status_code == 200
    assert confirmed.headers["cache-control"] == "no-store"
    html = unescape(confirmed.text)
    assert '<h1 id="token-heading">Your signature is confirmed</h1>' in html
    assert "Thank you! Your signature is confirmed and now counts." in html
    assert "Petition: Set 12 as the minimum age of arrest in Florida" in html
    assert "1 verified signature" in html
    assert "Next: ask others to sign" in html and "https://wa.me/?text=" in html
    assert mail_client.get(f"/v1/petitions/{SLUG}/count").json()["verified"] == 1
    again = mail_client.post("/confirm", data={"token": link_in(message, "/confirm")})
    assert "Your signature was already confirmed" in again.text

    unknown = mail_client.post("/confirm", data={"token": "x" * 43})
    assert unknown.status_code == 404 and "We do not recognise this link" in unknown.text

    withdraw_token = link_in(message, "/withdraw")
    asked = mail_client.get("/withdraw?token=" + withdraw_token)
    assert 'id="withdraw-button"' in asked.text
    withdrawn = mail_client.post("/withdraw", data={"token": withdraw_token})
    assert "Your signature has been withdrawn and your details erased." in withdrawn.text
    assert mail_client.get(f"/v1/petitions/{SLUG}/count").json()["verified"] == 0
    twice = mail_client.post("/withdraw", data={"token": withdraw_token})
    assert "This signature was already withdrawn." in twice.text
    cross = mail_client.post(
        "/withdraw", data={"token": withdraw_token}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status_code == 403


# --- ?ref= and the staff view --------------------------------------------------------------


def test_ref_is_carried_by_the_page_and_counted_per_channel_for_staff(
    client: TestClient, clean_database: Database
) -> None:
    page = Tags(client.get(f"/petitions/{SLUG}?ref=whatsapp").text)
    assert page.inputs["ref"]["value"] == "whatsapp"
    assert Tags(client.get(f"/petitions/{SLUG}?ref=<script>").text).inputs["ref"]["value"] == ""
    confirm_one(client, clean_database, "a@example.org", ref="whatsapp")
    confirm_one(client, clean_database, "b@example.org", ref="whatsapp")
    confirm_one(client, clean_database, "c@example.org", ref="no-such-channel")
    confirm_one(client, clean_database, "d@example.org")
    # Signed by a shared link, never confirmed: not counted.
    assert client.post(SIGN_URL, json=signer(email="e@example.org", ref="x")).status_code == 202
    # The form carries it too.
    form = {**form_values(email="f@example.org"), **sign_form(client), "ref": "email"}
    assert client.post(SIGN_PAGE, data=form).status_code == 200

    key = make_key(clean_database, "signatures:read")
    response = client.get(f"/v1/admin/petitions/{SLUG}/referrals", headers=auth(key))
    assert response.status_code == 200
    assert response.json() == [
        {"channel": "whatsapp", "confirmed": 2},
        {"channel": None, "confirmed": 2},
    ]
    assert client.get(f"/v1/admin/petitions/{SLUG}/referrals").status_code == 401


# --- momentum: milestones, recent signers, the county map ----------------------------------


@pytest.mark.parametrize(
    ("verified", "expected"),
    [(0, 10), (3, 10), (10, 25), (24, 25), (99, 100), (120, 250), (2600, 5000), (9999, 10000)],
)
def test_next_milestone(verified: int, expected: int) -> None:
    assert next_milestone(verified, 10000) == expected


def test_next_milestone_includes_the_petitions_own_and_goes_past_the_goal() -> None:
    assert next_milestone(3, 10000, [5]) == 5
    assert next_milestone(10000, 10000) == 25000


def test_county_names_fold_and_every_county_has_an_outline() -> None:
    outlines = florida_counties()
    assert len(outlines.counties) == 67
    assert {c.fips[:2] for c in outlines.counties} == {"12"}
    assert county_key("Desoto County") == county_key("DeSoto")
    mapped = county_map(
        [
            StatBucket(key="Orange County", count=3),
            StatBucket(key="DeSoto County", count=1),
            StatBucket(key="Desoto County", count=1),
        ]
    )
    assert [(r.name, r.count) for r in mapped.rows] == [("Orange", 3), ("DeSoto", 2)]
    shades = {c.name: c.shade for c in mapped.counties}
    assert shades["Orange"] == 4 and 0 < shades["DeSoto"] < 4 and shades["Leon"] == 0


def test_page_shows_recent_signers_and_the_county_table_of_stats(
    client: TestClient, clean_database: Database
) -> None:
    confirm_one(client, clean_database, "o1@example.org", postal_code="32801")
    confirm_one(client, clean_database, "o2@example.org", postal_code="32803", comment="Twelve.")
    confirm_one(client, clean_database, "m@example.org", postal_code="33130")
    confirm_one(client, clean_database, "ny@example.org", postal_code="10001")
    html = client.get("/").text
    stats = client.get(f"/v1/petitions/{SLUG}/stats").json()
    table = dict(re.findall(r'<td data-county="([^"]+)">([\d,]+)</td>', html))
    expected = {county_key(b["key"]): b["count"] for b in stats["by_florida_county"]}
    assert {county_key(name): int(n) for name, n in table.items()} == expected
    assert expected == {"orange": 2, "miami-dade": 1}
    paths = dict(re.findall(r'data-county="([^"]+)" data-count="(\d+)"', html))
    assert len(paths) == 67
    assert paths["Orange"] == "2" and paths["Miami-Dade"] == "1" and paths["Leon"] == "0"
    assert "<caption>Confirmed signers by Florida county</caption>" in html
    assert "Ana Q." in html and "Twelve." in html
    assert "quintanilla" not in html.lower().replace("ana q.", "")


# --- who runs it ---------------------------------------------------------------------------


def test_about_page_from_settings_and_honest_defaults(
    settings: Settings, clean_database: Database
) -> None:
    with TestClient(create_app(settings)) as client:
        html = client.get("/about").text
        assert "The organiser has not published their name on this page yet." in html
        assert "No contact address has been published yet." in html
        assert "closed for 180 days" in html
    named = settings.model_copy(
        update={
            "organiser_name": "Friends of Twelve",
            "contact_email": "hello@example.org",
            "delivery_plan": "We deliver it to the Florida Legislature in January.",
        }
    )
    with TestClient(create_app(named)) as client:
        html = client.get("/about").text
        assert "This petition is organised by Friends of Twelve." in html
        assert '<a href="mailto:hello@example.org">hello@example.org</a>' in html
        assert "We deliver it to the Florida Legislature in January." in html
        assert "Sobre esta petición" in client.get("/about?lang=es").text


def test_emails_link_to_the_about_page(
    client: TestClient, smtp_server: SmtpSink, mail_worker: MailWorker
) -> None:
    assert client.post(SIGN_URL, json=signer(locale="es")).status_code == 202
    mail_worker.drain()
    [message] = smtp_server.to("ana.quintanilla@example.org")
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f"{BASE}/about?lang=es" in text
    assert f'href="{BASE}/about?lang=es"' in html


# --- my signatures without JavaScript ------------------------------------------------------


def test_my_signatures_by_form_posts(
    mail_client: TestClient, smtp_server: SmtpSink, mail_worker: MailWorker
) -> None:
    assert mail_client.post(SIGN_URL, json=signer(email="mine@example.org")).status_code == 202
    mail_worker.drain()
    [signed] = smtp_server.to("mine@example.org")
    assert mail_client.post("/confirm", data={"token": link_in(signed, "/confirm")}).is_success

    missing = mail_client.post("/my-signatures", data={"email": ""})
    assert missing.status_code == 422 and "Enter your email address." in missing.text
    invalid = mail_client.post("/my-signatures", data={"email": "nope"})
    assert invalid.status_code == 422
    assert Tags(invalid.text).inputs["email"]["aria-invalid"] == "true"
    sent = mail_client.post("/my-signatures", data={"email": "mine@example.org"})
    assert sent.status_code == 200
    assert "If anyone signed here with mine@example.org" in unescape(sent.text)
    assert mail_worker.drain() == 1
    token = link_in(smtp_server.to("mine@example.org")[-1], "/my-signatures")

    opened = mail_client.get(f"/my-signatures?token={token}")
    assert "<noscript>" in opened.text and "Show my signatures" in opened.text
    listed = mail_client.post("/my-signatures/list", data={"token": token})
    assert listed.status_code == 200 and listed.headers["cache-control"] == "no-store"
    assert "1 signature found." in listed.text
    assert "Set 12 as the minimum age of arrest in Florida" in listed.text
    assert "Confirmed: it counts." in listed.text
    assert re.search(r"Signed on [A-Z][a-z]+ \d{1,2}, \d{4}<", listed.text)  # babel's long date
    withdraw = {"token": token, "petition_slug": SLUG}
    asked = mail_client.post("/my-signatures/withdraw", data=withdraw)
    assert "Yes, withdraw it" in asked.text
    assert mail_client.get(f"/v1/petitions/{SLUG}/count").json()["verified"] == 1
    done = mail_client.post("/my-signatures/withdraw", data={**withdraw, "confirm": "yes"})
    assert "has been withdrawn and your details erased." in done.text
    assert "No signatures found." in done.text
    assert mail_client.get(f"/v1/petitions/{SLUG}/count").json()["verified"] == 0

    unknown = mail_client.post("/my-signatures/list", data={"token": "y" * 43})
    assert unknown.status_code == 404 and "We do not recognise this link" in unknown.text
    cross = mail_client.post(
        "/my-signatures/list", data={"token": token}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status_code == 403


def test_form_posts_over_the_rate_limit_say_so_in_the_page(
    fresh_rate_limit_window, settings: Settings, clean_database: Database
) -> None:
    # Past the allowance (burst) a signature is still taken, held for review; past the flood
    # ceiling (requests) the form is refused, as the JSON API does.
    limited = settings.model_copy(
        update={
            "rate_limit_enabled": True,
            "rate_limit_burst": "2/60",
            "rate_limit_requests": "3/60",
        }
    )
    with TestClient(create_app(limited)) as client:
        hidden = sign_form(client)
        for n in range(3):
            data = {**form_values(email=f"limit{n}@example.org"), **hidden}
            assert client.post(SIGN_PAGE, data=data).status_code == 200
        over = client.post(SIGN_PAGE, data={**form_values(email="limit9@example.org"), **hidden})
        assert over.status_code == 429
        assert "Too many attempts. Please wait a minute and try again." in over.text
        assert Tags(over.text).inputs["email"]["value"] == "limit9@example.org"


def test_share_image_is_drawn_with_pillows_own_font_where_dejavu_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pathlib import Path

    from api.web import share

    monkeypatch.setattr(share, "BOLD_FONT", Path("/nonexistent/bold.ttf"))
    monkeypatch.setattr(share, "REGULAR_FONT", Path("/nonexistent/regular.ttf"))
    share._font.cache_clear()
    try:
        png = share.draw_share_image("A title " * 20, "3 verified signatures", "Goal", "Site", 0.3)
    finally:
        share._font.cache_clear()
    image = Image.open(io.BytesIO(png))
    assert (image.format, image.size) == ("PNG", (1200, 630))
