"""The incident API over HTTP, against the seeded fact base."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient

from tests.test_errors import assert_problem


def all_pages(client: TestClient, path: str, **params) -> list[dict]:
    items: list[dict] = []
    url: str | None = path
    first = True
    while url is not None:
        response = client.get(url, params=params if first else None)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        url = page["next"]
        first = False
    return items


def test_incident_summary_ties_it_together(client: TestClient) -> None:
    incident = client.get("/v1/incident").json()
    assert incident["child"]["name"] == "Kaia Rolle"
    assert incident["child"]["age"] == 6
    assert incident["where"]["city"] == "Orlando"
    assert incident["where"]["state"] == "Florida"
    assert incident["when"]["precision"] == "month"
    assert incident["when"]["inferred"] is True
    assert incident["counts"]["facts"] == len(all_pages(client, "/v1/facts", limit=100))
    assert incident["counts"]["sources"] == 3
    assert incident["counts"]["discrepancies"] >= 5
    names = {person["name"] for person in incident["people"]}
    assert {"Dennis Turner", "Orlando Rolon", "Meralyn Kirkland", "Aramis Ayala"} <= names
    fact_ids = {f["id"] for f in all_pages(client, "/v1/facts", limit=100)}
    for party in incident["people"] + incident["agencies"]:
        assert set(party["fact_ids"]) <= fact_ids, party
    assert incident["links"]["facts"] == "/v1/facts"


def test_facts_paginate_with_a_cursor_and_no_repeats(client: TestClient) -> None:
    paged = all_pages(client, "/v1/facts", limit=7)
    whole = client.get("/v1/facts", params={"limit": 100}).json()["items"]
    assert [f["id"] for f in paged] == [f["id"] for f in whole]
    assert len({f["id"] for f in paged}) == len(paged) >= 40


def test_every_fact_is_backed_by_quotes_and_status_matches_its_sources(client: TestClient) -> None:
    # Only a substantive discrepancy disputes its facts; a wording variant disputes nothing.
    disputed_ids = {
        fact_id
        for d in all_pages(client, "/v1/discrepancies")
        if d["kind"] == "substantive"
        for fact_id in d["fact_ids"]
    }
    for fact in all_pages(client, "/v1/facts", limit=100):
        assert fact["citations"], fact["id"]
        sources = {c["source_id"] for c in fact["citations"]}
        if fact["id"] in disputed_ids:
            expected = "disputed"
        else:
            expected = "corroborated" if len(sources) >= 2 else "single_source"
        assert fact["status"] == expected, fact["id"]
        for citation in fact["citations"]:
            assert citation["end"] - citation["start"] == len(citation["quote"])


def test_filters(client: TestClient) -> None:
    firing = client.get("/v1/facts", params={"topic": "firing", "limit": 100}).json()["items"]
    assert firing and all(f["topic"] == "firing" for f in firing)

    status = client.get("/v1/facts", params={"status": "disputed"}).json()["items"]
    assert status and all(f["status"] == "disputed" for f in status)

    source_id = client.get("/v1/sources").json()["items"][0]["id"]
    cited = all_pages(client, "/v1/facts", source=source_id)
    assert cited and all(source_id in {c["source_id"] for c in f["citations"]} for f in cited)

    # q matches statements and quotes, case-insensitively.
    found = client.get("/v1/facts", params={"q": "BROKEN THE RECORD"}).json()["items"]
    assert found
    assert all(
        "broken the record"
        in (f["statement"] + " ".join(c["quote"] for c in f["citations"])).lower()
        for f in found
    )
    assert client.get("/v1/facts", params={"q": "%"}).json()["items"] == []


def test_date_range_matches_by_precision(client: TestClient) -> None:
    # The arrest is known to the month (September 2019): a mid-month range still finds it.
    mid_september = client.get(
        "/v1/facts", params={"occurred_from": "2019-09-15", "occurred_to": "2019-09-16"}
    ).json()["items"]
    assert mid_september
    for fact in mid_september:
        assert fact["occurred"]["date"] <= "2019-09-16"
    none_before = client.get("/v1/facts", params={"occurred_to": "2018-12-31"}).json()["items"]
    assert none_before == []


def test_one_fact_and_its_404(client: TestClient) -> None:
    first = client.get("/v1/facts", params={"limit": 1}).json()["items"][0]
    assert client.get(f"/v1/facts/{first['id']}").json() == first
    body = assert_problem(client.get("/v1/facts/no-such-fact"), 404)
    assert "no-such-fact" in body["detail"]


def test_sources_state_no_invented_metadata(client: TestClient) -> None:
    sources = client.get("/v1/sources").json()["items"]
    assert len(sources) == 3
    for source in sources:
        assert len(source["content_sha256"]) == 64
        assert source["fact_count"] > 0
        # None of the three texts names its publisher or publication date.
        assert source["publisher"] is None
        assert source["published"] is None
        assert client.get(f"/v1/sources/{source['id']}").json() == source
    assert_problem(client.get("/v1/sources/nope"), 404)


def test_source_as_csl_json(client: TestClient) -> None:
    source = client.get("/v1/sources").json()["items"][1]
    response = client.get(
        f"/v1/sources/{source['id']}",
        headers={"Accept": "application/vnd.citationstyles.csl+json"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.citationstyles.csl+json"
    assert "Accept" in response.headers["vary"]
    csl = response.json()
    assert csl["id"] == source["id"]
    assert csl["type"] == "article-newspaper"
    assert csl.get("title") == source["title"]
    assert "issued" not in csl  # no date is stated, so none is given


def test_timeline_is_ordered_and_dated(client: TestClient) -> None:
    entries = all_pages(client, "/v1/timeline", limit=5)
    assert entries
    ends = []
    for entry in entries:
        assert entry["occurred"]["precision"] in {"day", "month", "year"}
        ends.append(entry["occurred"]["date"])
    arrest = next(e for e in entries if e["occurred"]["date"].startswith("2019-09"))
    footage = next(e for e in entries if e["occurred"]["date"].startswith("2020-02"))
    assert entries.index(arrest) < entries.index(footage)


def test_discrepancies_show_every_version_with_its_quote(client: TestClient) -> None:
    discrepancies = all_pages(client, "/v1/discrepancies")
    assert len(discrepancies) >= 5
    for discrepancy in discrepancies:
        assert discrepancy["kind"] in {"substantive", "wording"}
        assert len({v["source_id"] for v in discrepancy["versions"]}) >= 2
        for version in discrepancy["versions"]:
            assert version["quote"] and version["says"]


# Facts every source agrees on, which a discrepancy about wording (or none at all) once made
# "disputed" (issue 13).
AGREED_FACTS = [
    "kaia-let-me-go",
    "kaia-police-car-plea",
    "officer-you-have-to",
    "kaia-another-chance",
    "footage-shared-with-media",
    "footage-released-by-family-side",
]


def test_the_facts_every_source_agrees_on_are_not_disputed(client: TestClient) -> None:
    for fact_id in AGREED_FACTS:
        fact = client.get(f"/v1/facts/{fact_id}").json()
        assert fact["status"] == "corroborated", fact_id
    shown = client.get("/v1/facts", params={"status": "disputed", "limit": 100}).json()["items"]
    assert not {f["id"] for f in shown} & set(AGREED_FACTS)


def test_no_fact_is_disputed_without_a_substantive_discrepancy(client: TestClient) -> None:
    discrepancies = {d["id"]: d for d in all_pages(client, "/v1/discrepancies")}
    disputed = client.get("/v1/facts", params={"status": "disputed", "limit": 100}).json()["items"]
    assert disputed  # the seed has one real disagreement: how many staff, and how
    for fact in disputed:
        behind = [discrepancies[d] for d in fact["discrepancy_ids"]]
        substantive = [d for d in behind if d["kind"] == "substantive"]
        assert substantive, fact["id"]
        for discrepancy in substantive:
            versions = discrepancy["versions"]
            assert len({v["source_id"] for v in versions}) >= 2
            assert len({v["says"] for v in versions}) >= 2


def test_wording_discrepancies_are_served_with_their_kind(client: TestClient) -> None:
    wording = all_pages(client, "/v1/discrepancies", kind="wording")
    ids = {d["id"] for d in wording}
    assert {"let-me-go-wording", "police-car-plea-wording", "turner-arrest-count"} <= ids
    assert all(d["kind"] == "wording" for d in wording)
    # Both may be true: the police station and the juvenile detention centre, each quoted.
    station = next(d for d in wording if d["id"] == "police-station-or-detention-centre")
    assert "both may be true" in station["about"]
    quotes = " ".join(v["quote"] for v in station["versions"])
    assert "police station" in quotes and "juvenile detention centre" in quotes
    for fact_id in station["fact_ids"]:
        assert client.get(f"/v1/facts/{fact_id}").json()["status"] != "disputed"
    substantive = all_pages(client, "/v1/discrepancies", kind="substantive")
    assert [d["id"] for d in substantive] == ["staff-struck-how-many-and-how"]
    everything = {d["id"] for d in all_pages(client, "/v1/discrepancies")}
    # Not disagreements between the articles: gone.
    for gone in (
        "who-said-you-have-to",
        "another-or-second-chance-wording",
        "who-released-footage",
    ):
        assert gone not in everything
    assert_problem(client.get("/v1/discrepancies", params={"kind": "minor"}), 422)


def test_sources_have_labels_from_their_text(client: TestClient) -> None:
    sources = all_pages(client, "/v1/sources")
    labels = {s["id"]: s["label"] for s in sources}
    assert labels["article-please-let-me-go"].startswith("Video Shows Florida Police Officer")
    assert labels["article-cable-ties-tweet"].startswith("A SIX-YEAR-OLD schoolgirl was seen")
    assert labels["article-zip-ties-grandmother"].startswith("Police in Florida have been filmed")
    for source in sources:
        assert source["publisher"] is None and source["published"] is None  # no text states them


def test_etag_and_conditional_get(client: TestClient) -> None:
    for path in ("/v1/incident", "/v1/facts", "/v1/sources", "/v1/timeline", "/v1/discrepancies"):
        first = client.get(path)
        assert first.status_code == 200
        etag = first.headers["etag"]
        assert "max-age" in first.headers["cache-control"]
        second = client.get(path, headers={"If-None-Match": etag})
        assert second.status_code == 304, path
        assert second.content == b""
        assert second.headers["etag"] == etag
        assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_bad_cursor_is_a_422_naming_cursor(client: TestClient) -> None:
    body = assert_problem(client.get("/v1/facts", params={"cursor": "not-a-cursor"}), 422)
    assert body["errors"][0]["field"] == "cursor"


def test_dates_must_be_iso_not_timestamps(client: TestClient) -> None:
    # Regression: "0" was read as the Unix epoch and silently accepted.
    body = assert_problem(client.get("/v1/facts", params={"occurred_to": "0"}), 422)
    assert body["errors"][0]["field"] == "occurred_to"


def _forged(cursor: str, replace) -> str:
    values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    forged = [replace(v) for v in values]
    return base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")


@pytest.mark.parametrize("path", ["/v1/facts", "/v1/sources", "/v1/discrepancies"])
@pytest.mark.parametrize(
    "replace",
    [
        lambda v: 2**64 if isinstance(v, int) else v,  # SQLite OverflowError, PG out of range
        lambda v: -(2**70) if isinstance(v, int) else v,
        lambda v: True if isinstance(v, int) else v,
        lambda v: "a\x00b" if isinstance(v, str) else v,
        lambda v: "\ud800" if isinstance(v, str) else v,
    ],
)
def test_a_forged_cursor_is_a_422_naming_cursor(client: TestClient, path: str, replace) -> None:
    # Regression: an integer past 64 bits in a cursor was a 500 on every list.
    first = client.get(path, params={"limit": 1}).json()
    assert first["next_cursor"], path
    forged = _forged(first["next_cursor"], replace)
    if forged == first["next_cursor"]:
        pytest.skip(f"{path}'s cursor has no value of that kind")  # e.g. no string column
    body = assert_problem(client.get(path, params={"cursor": forged}), 422)
    assert body["errors"][0]["field"] == "cursor"
