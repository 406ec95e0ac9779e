"""The fact base through the admin API: quotes are checked verbatim when saved."""

from __future__ import annotations

import hashlib

import pytest

from tests.admin.helpers import DISCREPANCY_ID, FACT_WITH_THREE_CITATIONS, QUOTE, SOURCE_ID
from tests.conftest import SEEDS_DIR
from tests.test_errors import assert_problem

TEXT = (
    "The school called the police. The officer arrived at 11:20. "
    "Kaia was taken to the juvenile center."
)
SOURCE = {
    "id": "police-report",
    "title": "Incident report",
    "kind": "report",
    "language": "en",
    "text": TEXT,
}


def quote_of(phrase: str, source_id: str = "police-report") -> dict:
    start = TEXT.index(phrase)
    return {"source_id": source_id, "quote": phrase, "start": start, "end": start + len(phrase)}


def add_source(client, admin, **overrides) -> dict:
    response = client.post("/v1/admin/sources", json={**SOURCE, **overrides}, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_source_with_text_gets_its_hash(client, admin) -> None:
    source = add_source(client, admin)
    assert source["content_sha256"] == hashlib.sha256(TEXT.encode()).hexdigest()
    assert source["has_text"] is True
    assert source["text"] == TEXT
    assert client.get("/v1/admin/sources/police-report", headers=admin).json()["text"] == TEXT
    public = client.get("/v1/sources/police-report").json()
    assert "text" not in public
    assert_problem(client.post("/v1/admin/sources", json=SOURCE, headers=admin), 409)
    same_text = assert_problem(
        client.post("/v1/admin/sources", json={**SOURCE, "id": "copy"}, headers=admin), 409
    )
    assert "police-report" in same_text["detail"]


def test_a_source_hash_must_match_its_text_or_be_given(client, admin) -> None:
    wrong = {**SOURCE, "content_sha256": "0" * 64}
    body = assert_problem(client.post("/v1/admin/sources", json=wrong, headers=admin), 422)
    assert body["errors"][0]["field"] == "content_sha256"
    no_text = {k: v for k, v in SOURCE.items() if k != "text"}
    body = assert_problem(client.post("/v1/admin/sources", json=no_text, headers=admin), 422)
    assert body["errors"][0]["field"] == "content_sha256"
    created = add_source(client, admin, text=None, content_sha256="a" * 64)
    assert created["has_text"] is False


def test_a_wrong_quote_is_refused_naming_the_field(client, admin) -> None:
    add_source(client, admin)
    good = quote_of("The officer arrived at 11:20.")
    bad = {**good, "quote": "The officer arrived at 11:30."}
    fact = {"id": "officer-arrival", "topic": "arrest", "statement": "An officer came."}

    response = client.post(
        "/v1/admin/facts", json={**fact, "citations": [good, bad]}, headers=admin
    )
    body = assert_problem(response, 422)
    [error] = body["errors"]
    assert error["field"] == "citations.1.quote"
    assert error["location"] == ["body", "citations", 1, "quote"]
    assert error["code"] == "quote_not_verbatim"
    assert "11:20" in error["message"]  # it shows what the text says there
    assert_problem(client.get("/v1/facts/officer-arrival"), 404)  # nothing was saved

    moved = {**good, "start": good["start"] + 1, "end": good["end"] + 1}
    body = assert_problem(
        client.post("/v1/admin/facts", json={**fact, "citations": [moved]}, headers=admin), 422
    )
    assert f"stands at [{good['start']}:{good['end']}]" in body["errors"][0]["message"]

    unknown = {**good, "source_id": "no-such-source"}
    body = assert_problem(
        client.post("/v1/admin/facts", json={**fact, "citations": [unknown]}, headers=admin), 422
    )
    assert body["errors"][0]["field"] == "citations.0.source_id"

    created = client.post("/v1/admin/facts", json={**fact, "citations": [good]}, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "single_source"
    assert client.get("/v1/facts/officer-arrival").json()["citations"][0]["quote"] == good["quote"]


def test_without_text_the_offsets_must_fit_the_quote(client, admin) -> None:
    short = {**QUOTE, "end": QUOTE["end"] - 1}
    body = assert_problem(
        client.post(
            "/v1/admin/facts",
            json={"id": "x", "topic": "t", "statement": "s", "citations": [short]},
            headers=admin,
        ),
        422,
    )
    assert body["errors"][0]["field"] == "citations.0.end"


def test_citations_are_checked_and_statuses_follow(client, admin) -> None:
    add_source(client, admin)
    fact = {
        "id": "juvenile-center",
        "topic": "arrest",
        "statement": "Kaia was taken to a juvenile center.",
        "citations": [quote_of("Kaia was taken to the juvenile center.")],
    }
    assert client.post("/v1/admin/facts", json=fact, headers=admin).status_code == 201
    url = "/v1/admin/facts/juvenile-center/citations"

    wrong_length = {**QUOTE, "quote": "This is not the quote at all."}
    bad = assert_problem(client.post(url, json=wrong_length, headers=admin), 422)
    assert bad["errors"][0]["field"] == "end"  # the seeded source has no stored text
    added = client.post(url, json=QUOTE, headers=admin)
    assert added.status_code == 201, added.text
    assert added.json()["position"] == 1
    assert client.get("/v1/facts/juvenile-center").json()["status"] == "corroborated"

    body = assert_problem(
        client.patch(
            f"{url}/0", json={"quote": "Kaia was taken to the police station."}, headers=admin
        ),
        422,
    )
    assert body["errors"][0]["field"] == "quote"
    assert client.delete(f"{url}/1", headers=admin).status_code == 204
    assert client.get("/v1/facts/juvenile-center").json()["status"] == "single_source"
    body = assert_problem(client.delete(f"{url}/0", headers=admin), 409)
    assert "only source" in body["detail"]
    assert_problem(client.delete(f"{url}/7", headers=admin), 404)


def test_a_new_text_must_still_hold_every_quote(client, admin) -> None:
    add_source(client, admin)
    fact = {
        "id": "officer-arrival",
        "topic": "arrest",
        "statement": "An officer came.",
        "citations": [quote_of("The officer arrived at 11:20.")],
    }
    client.post("/v1/admin/facts", json=fact, headers=admin)
    changed = TEXT.replace("11:20", "11:25")
    body = assert_problem(
        client.patch("/v1/admin/sources/police-report", json={"text": changed}, headers=admin),
        422,
    )
    assert body["errors"][0]["field"] == "text"
    assert "officer-arrival" in body["errors"][0]["message"]
    # A text that keeps every quote where it is is accepted; the hash follows it.
    longer = TEXT + " The charges were later dropped."
    response = client.patch("/v1/admin/sources/police-report", json={"text": longer}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["content_sha256"] == hashlib.sha256(longer.encode()).hexdigest()


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="the source texts live in ../shared/seeds")
def test_the_seeded_quotes_stand_in_their_real_texts(client, admin) -> None:
    source = client.get(f"/v1/admin/sources/{SOURCE_ID}", headers=admin).json()
    for path in SEEDS_DIR.iterdir():
        if hashlib.sha256(path.read_bytes()).hexdigest() == source["content_sha256"]:
            text = path.read_text(encoding="utf-8")
            break
    else:
        pytest.skip("no seed file for the source")
    response = client.patch(f"/v1/admin/sources/{SOURCE_ID}", json={"text": text}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["content_sha256"] == source["content_sha256"]
    # From now on a quote of this source is checked against its words.
    body = assert_problem(
        client.post(
            f"/v1/admin/facts/{FACT_WITH_THREE_CITATIONS}/citations",
            json={**QUOTE, "quote": "School employees tell him that Kaia is 7."},
            headers=admin,
        ),
        422,
    )
    assert body["errors"][0]["field"] == "quote"


def test_discrepancies_dispute_facts_and_are_checked(client, admin) -> None:
    add_source(client, admin)
    versions = [
        {**quote_of("The officer arrived at 11:20."), "says": "11:20."},
        {**quote_of("The school called the police."), "says": "Wrong offsets."},
    ]
    versions[1]["start"] += 2
    versions[1]["end"] += 2
    # A disagreement is between sources: a second source's version.
    versions.append({**QUOTE, "says": "Another account."})
    discrepancy = {
        "id": "arrival-time",
        "kind": "substantive",
        "about": "When the officer arrived",
        "fact_ids": [FACT_WITH_THREE_CITATIONS],
        "versions": versions,
    }
    body = assert_problem(
        client.post("/v1/admin/discrepancies", json=discrepancy, headers=admin), 422
    )
    assert body["errors"][0]["field"] == "versions.1.quote"
    versions[1]["start"] -= 2
    versions[1]["end"] -= 2
    unknown = {**discrepancy, "fact_ids": ["no-such-fact"]}
    body = assert_problem(client.post("/v1/admin/discrepancies", json=unknown, headers=admin), 422)
    assert body["errors"][0]["field"] == "fact_ids.0"

    assert client.get(f"/v1/facts/{FACT_WITH_THREE_CITATIONS}").json()["status"] == "corroborated"
    created = client.post("/v1/admin/discrepancies", json=discrepancy, headers=admin)
    assert created.status_code == 201, created.text
    fact = client.get(f"/v1/facts/{FACT_WITH_THREE_CITATIONS}").json()
    assert fact["status"] == "disputed"
    assert "arrival-time" in fact["discrepancy_ids"]

    edited = client.patch(
        "/v1/admin/discrepancies/arrival-time", json={"fact_ids": []}, headers=admin
    )
    assert edited.json()["fact_ids"] == []
    assert client.get(f"/v1/facts/{FACT_WITH_THREE_CITATIONS}").json()["status"] == "corroborated"
    assert client.delete("/v1/admin/discrepancies/arrival-time", headers=admin).status_code == 204
    assert_problem(client.delete("/v1/admin/discrepancies/arrival-time", headers=admin), 404)

    # Deleting a seeded discrepancy frees the facts only it disputed.
    listed = client.get("/v1/discrepancies", params={"limit": 100}).json()["items"]
    seeded = next(d for d in listed if d["id"] == DISCREPANCY_ID)
    elsewhere = {f for d in listed if d["id"] != DISCREPANCY_ID for f in d["fact_ids"]}
    freed = [f for f in seeded["fact_ids"] if f not in elsewhere]
    assert freed
    assert (
        client.delete(f"/v1/admin/discrepancies/{DISCREPANCY_ID}", headers=admin).status_code == 204
    )
    for fact_id in freed:
        assert client.get(f"/v1/facts/{fact_id}").json()["status"] != "disputed"


def test_deleting_keeps_the_fact_base_whole(client, admin) -> None:
    body = assert_problem(client.delete(f"/v1/admin/sources/{SOURCE_ID}", headers=admin), 409)
    assert "quoted" in body["detail"]
    body = assert_problem(
        client.delete(f"/v1/admin/facts/{FACT_WITH_THREE_CITATIONS}", headers=admin), 409
    )
    assert "[fact:kaia-age-six]" in body["detail"]

    add_source(client, admin)
    fact = {
        "id": "officer-arrival",
        "topic": "arrest",
        "statement": "An officer came.",
        "occurred": {"date": "2019-09-19", "precision": "day", "inferred": False},
        "citations": [quote_of("The officer arrived at 11:20.")],
    }
    assert client.post("/v1/admin/facts", json=fact, headers=admin).status_code == 201
    assert_problem(client.delete("/v1/admin/sources/police-report", headers=admin), 409)
    assert client.delete("/v1/admin/facts/officer-arrival", headers=admin).status_code == 204
    assert_problem(client.get("/v1/facts/officer-arrival"), 404)
    assert client.delete("/v1/admin/sources/police-report", headers=admin).status_code == 204
    assert_problem(client.get("/v1/sources/police-report"), 404)


def test_fact_dates_carry_their_precision(client, admin) -> None:
    fact = {
        "id": "some-month",
        "topic": "arrest",
        "statement": "Something in September.",
        "occurred": {"date": "2019-09-15", "precision": "month", "inferred": True},
        "citations": [QUOTE],
    }
    body = assert_problem(client.post("/v1/admin/facts", json=fact, headers=admin), 422)
    assert body["errors"][0]["field"] == "occurred.date"
    fact["occurred"]["date"] = "2019-09-01"
    created = client.post("/v1/admin/facts", json=fact, headers=admin).json()
    assert created["occurred"] == {"date": "2019-09-01", "precision": "month", "inferred": True}
    in_range = client.get("/v1/facts", params={"occurred_from": "2019-09-20", "topic": "arrest"})
    assert "some-month" in [f["id"] for f in in_range.json()["items"]]
    cleared = client.patch("/v1/admin/facts/some-month", json={"occurred": None}, headers=admin)
    assert cleared.json()["occurred"] is None
