"""The petition's text per language: the seed's Spanish text, the public API and page in the
language asked for, staff editing it (a new version whose hash covers every language), and
Spanish emails that stay Spanish."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from api.cli import SEED_DIR
from api.main import create_app
from api.petitions.catalog import content_hash
from tests.admin.helpers import auth, make_key
from tests.petitions.helpers import SIGN_URL, SLUG, signer
from tests.test_errors import assert_problem

SPANISH_TITLE = "Fijar en 12 años la edad mínima de arresto en Florida"
ENGLISH_TITLE = "Set 12 as the minimum age of arrest in Florida"
FACT = re.compile(r"\[fact:[^\]]+\]")


def test_the_seeded_spanish_text_keeps_every_fact_reference():
    [petition] = json.loads((SEED_DIR / "petitions.json").read_text())["petitions"]
    spanish = petition["translations"]["es"]
    assert FACT.findall(spanish["body"]) == FACT.findall(petition["body"])
    assert spanish["body"].count("\n\n") == petition["body"].count("\n\n")
    assert spanish["title"] == SPANISH_TITLE


def test_the_api_serves_the_language_asked_for(client):
    english = client.get(f"/v1/petitions/{SLUG}")
    assert english.json()["language"] == "en"
    assert english.json()["title"] == ENGLISH_TITLE
    assert english.json()["available_languages"] == ["en", "es"]
    assert english.headers["content-language"] == "en"
    assert "accept-language" in english.headers["vary"].lower()

    by_query = client.get(f"/v1/petitions/{SLUG}?lang=es")
    assert by_query.headers["content-language"] == "es"
    body = by_query.json()
    assert (body["language"], body["title"], body["target"]) == (
        "es",
        SPANISH_TITLE,
        "Legislatura de Florida",
    )
    assert "[fact:kaia-age-six]" in body["body"]
    by_header = client.get(f"/v1/petitions/{SLUG}", headers={"Accept-Language": "es-US,es;q=0.9"})
    assert by_header.json()["title"] == SPANISH_TITLE
    listed = client.get("/v1/petitions", headers={"Accept-Language": "es"}).json()
    assert listed["items"][0]["title"] == SPANISH_TITLE
    # The version's hash is the same whichever language is read.
    assert body["version"] == english.json()["version"]
    assert_problem(client.get(f"/v1/petitions/{SLUG}?lang=fr"), 422)


def test_staff_set_and_remove_a_language(client, clean_database):
    admin = auth(make_key(clean_database))
    url = f"/v1/admin/petitions/{SLUG}"
    before = client.get(url, headers=admin).json()
    text = {"title": "Otro título", "ask": "Pedido", "target": "Legislatura", "body": "Texto."}
    changed = client.put(f"{url}/text/es", json=text, headers=admin)
    assert changed.status_code == 200, changed.text
    detail = changed.json()
    assert detail["version"]["number"] == before["version"]["number"] + 1
    assert detail["version"]["content_hash"] != before["version"]["content_hash"]
    assert detail["translations"]["es"] == text
    assert detail["versions"][-2]["translations"]["es"]["title"] == SPANISH_TITLE
    assert client.get(f"/v1/petitions/{SLUG}?lang=es").json()["title"] == "Otro título"

    removed = client.delete(f"{url}/text/es", headers=admin)
    assert removed.status_code == 200, removed.text
    assert removed.json()["translations"] == {}
    spanish = client.get(f"/v1/petitions/{SLUG}?lang=es")
    assert spanish.json()["language"] == "en"
    assert spanish.headers["content-language"] == "en"
    # Without translations the hash is the English text's alone, as before translations.
    petition = removed.json()
    assert petition["version"]["content_hash"] == content_hash(
        petition["title"], petition["ask"], petition["target"], petition["body"]
    )
    assert_problem(client.delete(f"{url}/text/es", headers=admin), 404)
    assert_problem(client.delete(f"{url}/text/en", headers=admin), 409)
    extra = client.put(f"{url}/text/es", json={**text, "lang": "es"}, headers=admin)
    assert_problem(extra, 422)

    audit = client.get("/v1/admin/audit", headers=admin).json()["items"]
    assert [e["action"] for e in audit[:2]] == ["petition.text.delete", "petition.text.set"]
    assert audit[1]["target_id"] == f"{SLUG}/es"


def test_a_fact_cited_only_in_spanish_cannot_be_deleted(client, clean_database):
    admin = auth(make_key(clean_database))
    created = client.post(
        "/v1/admin/facts",
        json={
            "id": "spanish-only",
            "topic": "people",
            "statement": "S.",
            "citations": [
                {
                    "source_id": "article-cable-ties-tweet",
                    "quote": "School employees tell him that Kaia is six.",
                    "start": 1936,
                    "end": 1979,
                }
            ],
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    text = {"title": "T", "ask": "A", "target": "L", "body": "Texto [fact:spanish-only]."}
    client.put(f"/v1/admin/petitions/{SLUG}/text/es", json=text, headers=admin)
    assert_problem(client.delete("/v1/admin/facts/spanish-only", headers=admin), 409)


def test_spanish_signers_get_spanish_mail_throughout(client, smtp_server, mail_worker):
    client.post(SIGN_URL, json=signer(email="lucia@example.org", locale="es"))
    client.post(SIGN_URL, json=signer(email="lucia@example.org", locale="es"))  # a reminder
    mail_worker.drain()
    messages = smtp_server.to("lucia@example.org")
    assert [m["Subject"] for m in messages] == [f"Confirme su firma: {SPANISH_TITLE}"] * 2
    for message in messages:
        for part in ("plain", "html"):
            content = message.get_body(preferencelist=(part,)).get_content()
            assert SPANISH_TITLE in content and ENGLISH_TITLE not in content


def test_the_page_shows_the_text_in_its_language(client):
    spanish = client.get(f"/petitions/{SLUG}?lang=es").text
    assert f'<h1 lang="es">{SPANISH_TITLE}</h1>' in spanish
    assert "la policía de Orlando arrestó a Kaia Rolle" in spanish
    english = client.get(f"/petitions/{SLUG}").text
    assert f'<h1 lang="en">{ENGLISH_TITLE}</h1>' in english


def test_the_response_cache_keeps_languages_apart(settings, clean_database):
    app = create_app(settings.model_copy(update={"response_cache_seconds": 30}))
    with TestClient(app) as client:
        titles = [
            client.get(f"/v1/petitions/{SLUG}", headers={"Accept-Language": lang}).json()["title"]
            for lang in ("en", "es", "en", "es")
        ]
    assert titles == [ENGLISH_TITLE, SPANISH_TITLE] * 2
