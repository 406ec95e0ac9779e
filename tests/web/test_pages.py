"""The HTML pages over HTTP (no browser): content, languages, headers, static files, CORS."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from api.config import Settings
from api.db import Database
from api.incident.models import FactStatus
from api.incident.schemas import CitationPublic, FactPublic
from api.main import create_app
from api.web.i18n import LANGUAGES, fill, language_from_accept, strings
from api.web.petition_page import Reference, case_paragraphs
from tests.web.conftest import SLUG

FORM_FIELDS = [
    "first_name",
    "last_name",
    "email",
    "postal_code",
    "country",
    "comment",
    "display_publicly",
    "contact_opt_in",
]


class Page(HTMLParser):
    """Just enough of a page's structure to check labels, ids and scripts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.ids: dict[str, dict[str, str | None]] = {}
        self.label_for: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.styles_inline = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids[attributes["id"]] = {"tag": tag, **attributes}
        if tag == "label" and attributes.get("for"):
            self.label_for.append(attributes["for"] or "")
        if tag == "script":
            self.scripts.append(attributes)
        if tag == "style" or "style" in attributes:
            self.styles_inline += 1


def page_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))


def test_petition_page_has_the_petition_the_facts_and_the_form(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "public, max-age=60"
    html = response.text
    page = Page(html)

    assert '<h1 lang="en">Set 12 as the minimum age of arrest in Florida</h1>' in html
    assert "Pass a state law making 12 the minimum age" in html
    # Every field has a visible label bound to it.
    for name in FORM_FIELDS:
        assert name in page.ids, name
        assert name in page.label_for, name
    # The count and its progress bar, with ARIA values.
    bar = page.ids["count-progress"]
    assert bar["role"] == "progressbar"
    # At 0 of 10,000 the bar shows the way to the first milestone, 10.
    assert (bar["aria-valuemin"], bar["aria-valuemax"], bar["aria-valuenow"]) == ("0", "10", "0")
    assert "Next milestone: 10" in html and "Goal: 10,000" in html
    assert page.ids["count-live"]["aria-live"] == "polite"
    assert page.ids["form-status"]["role"] == "status"
    # References in the case link to facts listed with their quotes.
    refs = re.findall(r'<sup class="ref"><a href="#fact-([a-z0-9-]+)">', html)
    assert len(refs) == 19
    for fact_id in refs:
        assert f"fact-{fact_id}" in page.ids
    assert "[fact:" not in html
    assert html.count('<figure class="quote">') >= 19
    assert (
        '<cite lang="en">Video Shows Florida Police Officer Arrest Crying 6-Year-Old Girl' in html
    )
    # A source without a headline is named by its opening words, not "Source 1".
    assert '<cite lang="en">A SIX-YEAR-OLD schoolgirl was seen crying and begging' in html
    assert "Source 1" not in html
    assert "(publisher and date not stated in the text)" in html
    # No inline script or style: the CSP would block them.
    assert page.styles_inline == 0
    for script in page.scripts:
        assert script.get("src") or script.get("type") == "application/json"
    data = page_data(html)
    assert data["slug"] == SLUG
    assert data["eventsUrl"] == f"/v1/petitions/{SLUG}/events"
    assert data["strings"]["submit"] == "Sign the petition"


def test_petition_page_by_slug_and_unknown_slug(client: TestClient) -> None:
    assert client.get(f"/petitions/{SLUG}").status_code == 200
    missing = client.get("/petitions/no-such-petition")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Petition not found" in missing.text
    assert client.get("/petitions/" + "x" * 200).status_code == 404


def test_closed_petition_shows_no_form(client: TestClient, clean_database: Database) -> None:
    from sqlalchemy import update

    from api.petitions.models import Petition

    with clean_database.session(write=True) as session:
        session.execute(update(Petition).values(status="closed"))
    html = client.get(f"/petitions/{SLUG}").text
    assert 'id="sign-form"' not in html
    assert "This petition is closed" in html


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("es", "es"),
        ("es-US,es;q=0.9,en;q=0.8", "es"),
        ("en-US,en;q=0.9,es;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,es;q=0.5", "es"),
        ("fr-FR,de;q=0.9", "en"),
        ("en;q=0.2,es;q=0.7", "es"),
        ("es;q=0", "en"),
        ("*", "en"),
        ("es;q=abc, en", "en"),
    ],
)
def test_language_from_accept_language(header: str | None, expected: str) -> None:
    assert language_from_accept(header) == expected


def test_language_by_header_and_by_switch(client: TestClient) -> None:
    spanish = client.get("/", headers={"Accept-Language": "es-US,es;q=0.9"})
    assert '<html lang="es">' in spanish.text
    assert "Firme la petición" in spanish.text
    assert spanish.headers["content-language"] == "es"
    assert "Accept-Language" in spanish.headers["vary"]
    assert page_data(spanish.text)["strings"]["submit"] == "Firmar la petición"

    # The switch wins over the header, and links carry the choice on.
    switched = client.get("/?lang=en", headers={"Accept-Language": "es"})
    assert '<html lang="en">' in switched.text
    assert 'href="/?lang=en"' in switched.text  # the site name, keeping the choice
    assert 'href="/?lang=es" hreflang="es"' in switched.text
    assert "Accept-Language" not in switched.headers.get("vary", "")

    unknown = client.get("/?lang=xx")
    assert '<html lang="en">' in unknown.text


def test_strings_exist_in_both_languages() -> None:
    english = strings("en")
    for lang in LANGUAGES:
        assert set(strings(lang)) == set(english), lang
        placeholders = {
            key: set(re.findall(r"\{(\w+)\}", value)) for key, value in strings(lang).items()
        }
        assert placeholders == {
            key: set(re.findall(r"\{(\w+)\}", value)) for key, value in english.items()
        }, lang
    # Every key a template or script asks for exists.
    from api.web.pages import STATIC_DIR, TEMPLATES_DIR

    used: set[str] = set()
    for path in TEMPLATES_DIR.glob("*.html"):
        used |= set(re.findall(r"\bt\.(\w+)", path.read_text()))
    for path in (STATIC_DIR / "js").glob("*.js"):
        used |= set(re.findall(r"\bt\(\"(\w+)\"\s*[,)]", path.read_text()))
    assert used - set(english) == set()


def test_confirm_and_withdraw_pages(client: TestClient) -> None:
    confirm = client.get("/confirm?token=abcdefghijklmnopqrstuvwxyz")
    assert confirm.status_code == 200
    assert confirm.headers["cache-control"] == "no-store"
    assert "Confirm your signature" in confirm.text
    assert page_data(confirm.text)["hasToken"] is True
    # Past the language switch, the token is only in the form that confirms without script.
    main = confirm.text.split("<body>")[1].split("</nav>")[1]
    assert main.count("abcdefghijklmnopqrstuvwxyz") == 1
    assert '<input type="hidden" name="token" value="abcdefghijklmnopqrstuvwxyz">' in main
    assert '<form id="confirm-form" class="token-form" method="post" action="/confirm">' in main

    withdraw = client.get("/withdraw?token=abcdefghijklmnopqrstuvwxyz&lang=es")
    assert "Retirar mi firma" in withdraw.text
    # The language switch keeps the token, so switching does not break the link.
    assert "token=abcdefghijklmnopqrstuvwxyz&amp;lang=en" in withdraw.text

    missing = client.get("/confirm")
    assert "This link is incomplete" in missing.text
    assert page_data(missing.text)["hasToken"] is False


def test_static_files_are_served_with_cache_headers(client: TestClient) -> None:
    html = client.get("/").text
    css = re.search(r'href="(/static/css/site\.css\?v=[0-9a-f]+)"', html)
    assert css
    versioned = client.get(css.group(1))
    assert versioned.status_code == 200
    assert versioned.headers["content-type"].startswith("text/css")
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    plain = client.get("/static/css/site.css")
    assert plain.headers["cache-control"] == "public, max-age=300"
    stale = client.get("/static/css/site.css?v=000000000000")
    assert stale.headers["cache-control"] == "public, max-age=300"
    for script in re.findall(r'src="(/static/js/[^"]+)"', html):
        response = client.get(script.replace("&amp;", "&"))
        assert response.status_code == 200
        assert "javascript" in response.headers["content-type"]
    missing = client.get("/static/nothing.js")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert client.get("/static/../main.py").status_code == 404


def test_cors_preflight_for_signing_from_another_origin(
    settings: Settings, clean_database: Database
) -> None:
    app = create_app(settings.model_copy(update={"cors_origins": ["https://frontend.example"]}))
    with TestClient(app) as client:
        preflight = client.options(
            f"/v1/petitions/{SLUG}/signatures",
            headers={
                "Origin": "https://frontend.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, idempotency-key",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://frontend.example"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert "content-type" in allowed
        assert "idempotency-key" in allowed

        refused = client.options(
            f"/v1/petitions/{SLUG}/signatures",
            headers={
                "Origin": "https://elsewhere.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers

        # A simple read from the allowed origin is readable by its script.
        count = client.get(
            f"/v1/petitions/{SLUG}/count", headers={"Origin": "https://frontend.example"}
        )
        assert count.headers["access-control-allow-origin"] == "https://frontend.example"


@pytest.fixture
def admin_headers(clean_database: Database) -> dict[str, str]:
    from tests.admin.helpers import auth, make_key

    return auth(make_key(clean_database, name="page-tests"))


def summaries_by_fact(html: str) -> dict[str, str]:
    """The "more quotes" summary of each fact on the page that has one."""
    found = re.findall(
        r'<li class="fact" id="fact-([a-z0-9-]+)".*?(?:<summary>(.*?)</summary>|</li>)', html, re.S
    )
    return {fact_id: summary for fact_id, summary in found if summary}


@pytest.mark.parametrize(
    ("lang", "three", "two", "one"),
    [
        (
            "en",
            "Quotes from all 3 sources",
            "Quotes from both sources",
            "More quotes from the same source",
        ),
        (
            "es",
            "Citas de las 3 fuentes",
            "Citas de las dos fuentes",
            "Más citas de la misma fuente",
        ),
    ],
)
def test_the_page_counts_distinct_sources(
    client: TestClient, admin_headers: dict[str, str], lang: str, three: str, two: str, one: str
) -> None:
    # A second quote from the one source of a single-source fact the petition cites.
    fact_id = "turner-youngest-previously-seven"
    second = {
        "source_id": "article-please-let-me-go",
        "quote": '"She\'s six?" Turner asks after hearing her age.',
        "start": 1353,
        "end": 1400,
    }
    added = client.post(f"/v1/admin/facts/{fact_id}/citations", json=second, headers=admin_headers)
    assert added.status_code == 201, added.text
    facts = {f["id"]: f for f in client.get("/v1/facts", params={"limit": 100}).json()["items"]}
    html = client.get("/", params={"lang": lang}).text
    summaries = summaries_by_fact(html)
    assert summaries, "no fact with several quotes on the page"
    for shown_id, summary in summaries.items():
        sources = {c["source_id"] for c in facts[shown_id]["citations"]}
        expected = {3: three, 2: two, 1: one}[len(sources)]
        assert summary == expected, (shown_id, summary)
    # Quotes are not sources: 4 quotes from 3 sources, and 4 quotes from 2.
    assert len(facts["kaia-pupil-at-school"]["citations"]) == 4
    assert summaries["kaia-pupil-at-school"] == three
    assert len(facts["kaia-arrested-september-2019"]["citations"]) == 4
    assert summaries["kaia-arrested-september-2019"] == two
    assert summaries[fact_id] == one
    assert "all 1 " not in html and "all 2 " not in html and "las 1 " not in html


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_wording_variant_is_shown_as_such_not_as_a_disagreement(
    client: TestClient, lang: str
) -> None:
    t = strings(lang)
    html = client.get("/", params={"lang": lang}).text
    # Kaia's plea to be let go: the sources word it differently, and none disputes it.
    item = re.search(r'<li class="fact" id="fact-kaia-let-me-go".*?</li>', html, re.S)
    assert item is not None
    assert t["fact_status_corroborated"] in item.group(0)
    assert t["fact_status_disputed"] not in item.group(0)
    assert t["fact_worded_differently"] in item.group(0)
    # The one substantive disagreement (how many staff, and how) still reads "disputed".
    item = re.search(
        r'<li class="fact" id="fact-arrest-after-allegedly-striking-staff".*?</li>', html, re.S
    )
    assert item is not None and t["fact_status_disputed"] in item.group(0)
    assert t["fact_worded_differently"] not in item.group(0)


def test_case_paragraphs_number_references_in_order_of_first_mention() -> None:
    def fact(fact_id: str) -> FactPublic:
        return FactPublic(
            id=fact_id,
            topic="t",
            statement="s",
            occurred=None,
            status=FactStatus.corroborated,
            citations=[CitationPublic(source_id="a", quote="q", start=0, end=1)],
            discrepancy_ids=[],
        )

    known = {"a": fact("a"), "b": fact("b")}
    body = "One [fact:a] [fact:b]. Two [fact:zz].\n\nThree [fact:b][fact:a]"
    paragraphs, cited = case_paragraphs(body, known)
    assert cited == ["a", "b"]
    assert paragraphs == [
        ["One", Reference(1, "a"), Reference(2, "b"), ". Two."],
        ["Three", Reference(2, "b"), Reference(1, "a")],
    ]


def test_fill() -> None:
    assert fill("{verified} of {goal}", verified="1,234", goal=10) == "1,234 of 10"


# --- /my-signatures ---------------------------------------------------------------------------

TOKEN = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def test_my_signatures_page_with_a_token(client: TestClient) -> None:
    response = client.get(f"/my-signatures?token={TOKEN}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    # Like /confirm and /withdraw: a URL with a token is never stored, nor sent as a referrer.
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    html = response.text
    page = Page(html)
    assert '<h1 id="mine-heading">Your signatures</h1>' in html
    status = page.ids["mine-status"]
    assert (status["role"], status["aria-live"]) == ("status", "polite")
    assert page.ids["mine-list"]["tag"] == "ul"
    assert "email" not in page.ids  # no form: the list comes from the API
    assert page.styles_inline == 0
    for script in page.scripts:
        assert script.get("src") or script.get("type") == "application/json"
    assert any("/static/js/my-signatures.js" in (s.get("src") or "") for s in page.scripts)
    data = page_data(html)
    assert data["hasToken"] is True
    assert data["mineUrl"] == "/v1/signatures/mine"
    assert data["withdrawUrl"] == "/v1/signatures/mine/withdraw"
    assert data["strings"]["mine_withdraw"] == "Withdraw"
    # The script reads the token from the address bar and POSTs it: it is not in the page's
    # data. In the content it is only in the no-script form that POSTs it (and the language
    # switch keeps it, as on /confirm).
    assert TOKEN not in json.dumps(data)
    main = html.split("<body>")[1].split("</nav>")[1]
    assert main.count(TOKEN) == 1
    noscript = main.split("<noscript>")[1].split("</noscript>")[0]
    assert f'<input type="hidden" name="token" value="{TOKEN}">' in noscript
    assert f"token={TOKEN}&amp;lang=es" in html


def test_my_signatures_page_without_a_token_asks_for_the_email(client: TestClient) -> None:
    response = client.get("/my-signatures")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    html = response.text
    page = Page(html)
    assert "Manage your signature" in html
    assert page.ids["email"]["type"] == "email"
    assert "email" in page.label_for
    assert page.ids["access-status"]["role"] == "status"
    assert page.ids["access-status"]["aria-live"] == "polite"
    # It works without the script: a form POST to the page (the script sends it to the API).
    assert "disabled" not in page.ids["access-fields"]
    assert (page.ids["access-form"]["method"], page.ids["access-form"]["action"]) == (
        "post",
        "/my-signatures",
    )
    data = page_data(html)
    assert data["hasToken"] is False
    assert data["accessUrl"] == "/v1/signatures/access"
    assert '<p class="notice">We do not recognise this link' not in html

    # An empty token is no link at all; one too long to be ours is said to be unknown.
    assert page_data(client.get("/my-signatures?token=").text)["hasToken"] is False
    too_long = client.get("/my-signatures?token=" + "x" * 200)
    assert page_data(too_long.text)["hasToken"] is False
    assert '<p class="notice">We do not recognise this link' in too_long.text
    assert 'id="access-form"' in too_long.text


def test_my_signatures_page_in_spanish(client: TestClient) -> None:
    by_header = client.get("/my-signatures", headers={"Accept-Language": "es-US,es;q=0.9"})
    assert '<html lang="es">' in by_header.text
    assert by_header.headers["content-language"] == "es"
    assert "Accept-Language" in by_header.headers["vary"]
    assert "Gestione su firma" in by_header.text
    assert "Envíenme un enlace" in by_header.text
    assert page_data(by_header.text)["strings"]["mine_confirm_yes"] == "Sí, retirarla"

    # The emailed link of a Spanish signer carries lang=es, whatever the browser says.
    by_link = client.get(f"/my-signatures?token={TOKEN}&lang=es", headers={"Accept-Language": "en"})
    assert '<html lang="es">' in by_link.text
    assert '<h1 id="mine-heading">Sus firmas</h1>' in by_link.text
    assert 'href="/my-signatures?lang=es">Pedir un enlace nuevo' in by_link.text
    assert by_link.headers["cache-control"] == "no-store"


def test_petition_page_links_to_my_signatures(client: TestClient) -> None:
    english = client.get("/").text
    assert '<a href="/my-signatures">Already signed? Manage your signature</a>' in english
    spanish = client.get(f"/petitions/{SLUG}?lang=es").text
    assert '<a href="/my-signatures?lang=es">¿Ya firmó? Gestione su firma</a>' in spanish
