"""Every validation rule has a rejecting test, and each 422 names its field."""

from __future__ import annotations

import pytest

from api.petitions.validation import canonical_email
from tests.petitions.helpers import SIGN_URL, signer
from tests.test_errors import assert_problem

REJECTED = [
    ("email", {"email": "not-an-email"}),
    ("email", {"email": "a@b"}),
    ("first_name", {"first_name": "   "}),
    ("first_name", {"first_name": "x" * 101}),
    ("first_name", {"first_name": '=HYPERLINK("x")'}),
    ("first_name", {"first_name": "+1 555"}),
    ("last_name", {"last_name": "-Smith"}),
    ("last_name", {"last_name": "@Smith"}),
    ("first_name", {"first_name": "Visit https://spam.test"}),
    ("last_name", {"last_name": "buy cheap at pills.com"}),
    ("first_name", {"first_name": "Ana\x00"}),
    ("postal_code", {"postal_code": "3280"}),
    ("postal_code", {"postal_code": "ABCDE"}),
    ("postal_code", {"postal_code": "00000"}),  # well formed, but no such ZIP
    ("postal_code", {"postal_code": "X" * 17, "country": "GB"}),
    ("postal_code", {"postal_code": "SW1A <1AA>", "country": "GB"}),
    ("country", {"country": "XX"}),
    ("country", {"country": "USA"}),
    ("comment", {"comment": "x" * 501}),
    ("locale", {"locale": "fr"}),
    ("display_publicly", {"display_publicly": "maybe"}),
    ("admin", {"admin": True}),  # unknown fields are refused
]


@pytest.mark.parametrize(("field", "override"), REJECTED)
def test_rejected(client, field, override):
    body = assert_problem(client.post(SIGN_URL, json=signer(**override)), 422)
    assert field in [error["field"] for error in body["errors"]], body
    assert all(error["message"] for error in body["errors"])


def test_missing_fields_are_named(client):
    body = assert_problem(client.post(SIGN_URL, json={}), 422)
    named = {error["field"] for error in body["errors"]}
    assert {"first_name", "last_name", "email", "postal_code"} <= named


def test_names_are_trimmed_and_normalised(client, clean_database):
    from sqlmodel import select

    from api.petitions.models import Signature

    response = client.post(
        SIGN_URL,
        json=signer(
            first_name="  \uff21na  ", last_name=" García   López ", postal_code="32801-1234"
        ),
    )
    assert response.status_code == 202
    with clean_database.session() as session:
        row = session.exec(select(Signature)).one()
    assert row.first_name == "Ana"  # NFKC folds the full-width A
    assert row.last_name == "García López"
    assert (row.state, row.county) == ("FL", "Orange County")
    assert row.postal_code == "32801-1234"


def test_other_countries_keep_their_code(client, clean_database):
    from sqlmodel import select

    from api.petitions.models import Signature

    assert (
        client.post(SIGN_URL, json=signer(country="gb", postal_code="sw1a 1aa")).status_code == 202
    )
    with clean_database.session() as session:
        row = session.exec(select(Signature)).one()
    assert (row.country, row.postal_code, row.state) == ("GB", "SW1A 1AA", None)


@pytest.mark.parametrize(
    ("address", "canonical"),
    [
        ("Jo.Doe+news@GoogleMail.com", "jodoe@gmail.com"),
        ("J.O.DOE@gmail.com", "jodoe@gmail.com"),
        ("Jo.Doe+news@example.org", "jo.doe+news@example.org"),  # only Gmail folds dots/tags
        ("MiXeD@Example.ORG", "mixed@example.org"),
    ],
)
def test_canonical_email(address, canonical):
    assert canonical_email(address) == canonical


def test_booleans_are_strict(client):
    # Regression (found by schemathesis): 0 and "yes" were coerced to booleans.
    for value in (0, 1, "yes"):
        body = assert_problem(client.post(SIGN_URL, json=signer(contact_opt_in=value)), 422)
        assert body["errors"][0]["field"] == "contact_opt_in"


def test_malformed_json_is_a_problem(client):
    response = client.post(
        SIGN_URL, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == "application/problem+json"
