"""The support check (api/incident/support.py): each rule passes good input and fails a crafted
bad one, as a function, over the stored fact base, and through the admin API (422)."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlmodel import select

from api.db import Database
from api.incident import support
from api.incident.models import Citation, Discrepancy, Fact, FactStatus, Source
from api.incident.support import VersionSays
from api.petitions.models import Petition
from tests.admin.helpers import QUOTE, SOURCE_ID, auth, make_key
from tests.test_errors import assert_problem

TEXT = "The officer arrived at 11:20. Kaia was taken to the juvenile center on May 2, 2019."


# --- the rules as functions ------------------------------------------------------------------


def test_quote_must_stand_verbatim_at_its_offsets() -> None:
    start = TEXT.index("The officer arrived")
    assert support.quote_problem(TEXT, "The officer arrived", start, start + 19) is None
    moved = support.quote_problem(TEXT, "The officer arrived", start + 1, start + 20)
    assert moved is not None and "stands at [0:19]" in moved
    missing = support.quote_problem(TEXT, "The officer left", 0, 16)
    assert missing is not None and "nowhere in the text" in missing


@pytest.mark.parametrize(
    "quote",
    [
        "February 25, 2020",
        "— CBS News (@CBSNews) February 25, 2020",
        "State Attorney Aramis Ayala",
        "Meralyn Kirkland, Kaia's grandmother",
        "Dennis Turner",
        "11:20",
    ],
)
def test_a_bare_date_or_name_is_not_evidence(quote: str) -> None:
    problem = support.evidence_problem(quote)
    assert problem is not None and "not a sentence or clause" in problem


@pytest.mark.parametrize(
    "quote",
    [
        "School employees tell him that Kaia is six.",
        "“Help me. Help me, please!” Kaia pleads through tears.",
        'to "please let me go."',
        "Meralyn Kirkland, Kaia's grandmother told reporters",
        "A SIX-YEAR-OLD schoolgirl was seen crying",
        "in the wake of the incident last September",
    ],
)
def test_a_clause_is_evidence(quote: str) -> None:
    assert support.evidence_problem(quote) is None


def test_a_discrepancy_needs_two_sources_that_differ() -> None:
    one_source = [VersionSays("a", "give me another chance"), VersionSays("a", "a second chance")]
    problem = support.discrepancy_problem(one_source)
    assert problem is not None and "two different sources" in problem
    # Case, spacing and punctuation are no disagreement.
    same = [VersionSays("a", "One teacher."), VersionSays("b", "one  teacher")]
    problem = support.discrepancy_problem(same)
    assert problem is not None and "says the same thing" in problem
    real = [VersionSays("a", "One teacher."), VersionSays("b", "Three members of staff.")]
    assert support.discrepancy_problem(real) is None


def test_only_a_substantive_discrepancy_disputes() -> None:
    assert support.disputes("substantive") and not support.disputes("wording")
    assert support.derive_status(3, True) is FactStatus.disputed
    assert support.derive_status(2, False) is FactStatus.corroborated
    assert support.derive_status(1, False) is FactStatus.single_source


def test_petition_references_must_name_facts() -> None:
    body = "One [fact:a] [fact:b]. Two [fact:zz] [fact:zz]."
    assert support.fact_references(body) == ["a", "b", "zz", "zz"]
    assert support.unknown_references(body, {"a", "b"}) == ["zz"]
    assert support.unknown_references(body, {"a", "b", "zz"}) == []


def test_labels_come_from_the_title_or_the_opening_words() -> None:
    text = "Police in Florida have been filmed using zip ties to restrain a six-year-old girl who"
    label = support.derive_label(None, text)
    assert (
        label
        == "Police in Florida have been filmed using zip ties to restrain a six-year-old girl…"
    )
    assert support.label_problem(label, None, text) is None
    assert support.derive_label("Headline", text) == "Headline"
    assert support.label_problem("Headline", "Headline", text) is None
    problem = support.label_problem("Kaia's story", None, text)
    assert problem is not None and "opening words" in problem
    assert support.derive_label(None, None) is None


# --- over the stored fact base ---------------------------------------------------------------


def test_the_seeded_fact_base_passes(clean_database: Database) -> None:
    with clean_database.session() as session:
        assert support.check_fact_base(session, {}) == []


def test_each_rule_fails_on_a_crafted_fact_base(clean_database: Database) -> None:
    with clean_database.session(write=True) as session:
        # A bare date as a quote.
        session.execute(
            update(Citation)
            .where(Citation.fact_id == "kaia-age-six", Citation.position == 0)
            .values(quote="February 25, 2020")
        )
        # A fact marked disputed with no substantive discrepancy behind it.
        session.execute(
            update(Fact).where(Fact.id == "kaia-let-me-go").values(status=FactStatus.disputed)
        )
        # The one substantive discrepancy made wording: its fact stays "disputed" in storage.
        session.execute(
            update(Discrepancy)
            .where(Discrepancy.id == "staff-struck-how-many-and-how")
            .values(kind="wording")
        )
        # A petition that cites a fact that does not exist.
        petition = session.exec(select(Petition)).first()
        assert petition is not None
        petition.body += " [fact:no-such-fact]"
        session.add(petition)
        # A label that is not from the text.
        source = session.get(Source, SOURCE_ID)
        assert source is not None
        source.label = "An article"
        session.add(source)
    with clean_database.session() as session:
        text = "A SIX-YEAR-OLD schoolgirl was seen crying"
        problems = "\n".join(support.check_fact_base(session, {SOURCE_ID: text}))
    assert "fact 'kaia-age-six' citation 0: 'February 25, 2020' is not a sentence" in problems
    assert "fact 'kaia-let-me-go': stored status disputed, the rules make it corroborated" in (
        problems
    )
    assert "fact 'arrest-after-allegedly-striking-staff': disputed, but no substantive" in problems
    assert "[fact:no-such-fact] names no fact" in problems
    assert f"source '{SOURCE_ID}': the label 'An article' is neither" in problems


def test_a_discrepancy_inside_one_source_fails(clean_database: Database) -> None:
    from api.incident.models import DiscrepancyVersion

    with clean_database.session(write=True) as session:
        session.execute(
            update(DiscrepancyVersion)
            .where(DiscrepancyVersion.discrepancy_id == "let-me-go-wording")
            .values(source_id="article-please-let-me-go")
        )
    with clean_database.session() as session:
        problems = support.check_fact_base(session, {})
    assert any("discrepancy 'let-me-go-wording': the versions must cite" in p for p in problems)


# --- the same rules on staff edits (admin API) ----------------------------------------------


@pytest.fixture
def admin(clean_database: Database) -> dict[str, str]:
    return auth(make_key(clean_database, name="support-check"))


def test_admin_refuses_a_bare_date_as_a_quote(client, admin) -> None:
    bare = {"source_id": SOURCE_ID, "quote": "February 25, 2020", "start": 1147, "end": 1164}
    fact = {"id": "when", "topic": "arrest", "statement": "A date.", "citations": [bare]}
    body = assert_problem(client.post("/v1/admin/facts", json=fact, headers=admin), 422)
    assert body["errors"][0]["field"] == "citations.0.quote"
    assert body["errors"][0]["code"] == "not_a_clause"
    added = client.post("/v1/admin/facts/kaia-age-six/citations", json=bare, headers=admin)
    assert assert_problem(added, 422)["errors"][0]["code"] == "not_a_clause"


OTHER_QUOTE = {
    "source_id": "article-please-let-me-go",
    "quote": "The officer with Kaia then tells the 6-year-old",
    "start": 980,
    "end": 1027,
}


def test_admin_refuses_a_discrepancy_that_is_no_disagreement(client, admin) -> None:
    one_source = {
        "id": "inside-one-article",
        "kind": "wording",
        "about": "Two wordings in one article",
        "fact_ids": ["kaia-age-six"],
        "versions": [{**QUOTE, "says": "six"}, {**QUOTE, "says": "6"}],
    }
    body = assert_problem(
        client.post("/v1/admin/discrepancies", json=one_source, headers=admin), 422
    )
    assert body["errors"][0]["field"] == "versions"
    assert body["errors"][0]["code"] == "no_disagreement"
    same = {
        **one_source,
        "kind": "substantive",
        "versions": [{**QUOTE, "says": "Six."}, {**OTHER_QUOTE, "says": "six"}],
    }
    body = assert_problem(client.post("/v1/admin/discrepancies", json=same, headers=admin), 422)
    assert body["errors"][0]["code"] == "no_disagreement"
    assert client.get("/v1/facts/kaia-age-six").json()["status"] == "corroborated"

    real = {**same, "versions": [{**QUOTE, "says": "Six."}, {**OTHER_QUOTE, "says": "Seven."}]}
    assert client.post("/v1/admin/discrepancies", json=real, headers=admin).status_code == 201
    assert client.get("/v1/facts/kaia-age-six").json()["status"] == "disputed"
    # Made a wording variant, it disputes nothing, and is still served with its kind.
    edited = client.patch(
        "/v1/admin/discrepancies/inside-one-article", json={"kind": "wording"}, headers=admin
    )
    assert edited.status_code == 200 and edited.json()["kind"] == "wording"
    assert client.get("/v1/facts/kaia-age-six").json()["status"] == "corroborated"
    # An edit that leaves one source is refused like a new one.
    body = assert_problem(
        client.patch(
            "/v1/admin/discrepancies/inside-one-article",
            json={"versions": one_source["versions"]},
            headers=admin,
        ),
        422,
    )
    assert body["errors"][0]["code"] == "no_disagreement"


def test_admin_refuses_a_petition_citing_no_such_fact(client, admin) -> None:
    from tests.petitions.helpers import SLUG

    current = client.get(f"/v1/admin/petitions/{SLUG}", headers=admin).json()["body"]
    body = assert_problem(
        client.patch(
            f"/v1/admin/petitions/{SLUG}",
            json={"body": current + " [fact:no-such-fact]"},
            headers=admin,
        ),
        422,
    )
    assert body["errors"][0]["field"] == "body"
    assert "[fact:no-such-fact]" in body["errors"][0]["message"]
    new = {
        "slug": "cites-nothing",
        "title": "T",
        "ask": "A",
        "target": "Someone",
        "body": "See [fact:kaia-age-six] and [fact:made-up].",
        "goal": 10,
    }
    body = assert_problem(client.post("/v1/admin/petitions", json=new, headers=admin), 422)
    assert "[fact:made-up]" in body["errors"][0]["message"]
    assert "kaia-age-six" not in body["errors"][0]["message"]
    fine = {**new, "body": "See [fact:kaia-age-six]."}
    assert client.post("/v1/admin/petitions", json=fine, headers=admin).status_code == 201


def test_admin_source_labels_come_from_the_text(client, admin) -> None:
    text = (
        "Police said the girl was arrested at her school in Orlando on a weekday morning last year."
    )
    source = {"id": "report", "kind": "report", "language": "en", "text": text}
    created = client.post("/v1/admin/sources", json=source, headers=admin)
    assert created.status_code == 201, created.text
    assert (
        created.json()["label"]
        == "Police said the girl was arrested at her school in Orlando on a weekday…"
    )
    invented = {**source, "id": "report-2", "text": text + " More.", "label": "Official report"}
    body = assert_problem(client.post("/v1/admin/sources", json=invented, headers=admin), 422)
    assert body["errors"][0]["field"] == "label"
    body = assert_problem(
        client.patch("/v1/admin/sources/report", json={"label": "Official report"}, headers=admin),
        422,
    )
    assert body["errors"][0]["field"] == "label"
    titled = client.patch(
        "/v1/admin/sources/report", json={"title": "Police report"}, headers=admin
    )
    assert titled.status_code == 200
    assert client.get("/v1/sources/report").json()["label"].startswith("Police said")
