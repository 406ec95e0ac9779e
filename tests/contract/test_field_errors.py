"""Field errors: all at once, with stable codes of our own, in English or Spanish, and within
the limits the schema states."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.field_errors import MESSAGES, PYDANTIC_CODES
from tests.petitions.helpers import SIGN_URL, signer
from tests.test_errors import assert_problem

REQUIRED = ["first_name", "last_name", "email", "postal_code"]


def errors_of(response) -> list[tuple[str, str]]:
    body = assert_problem(response, 422)
    return [(error["field"], error["code"]) for error in body["errors"]]


def test_an_empty_body_names_all_four_required_fields_at_once(client: TestClient) -> None:
    assert sorted(errors_of(client.post(SIGN_URL, json={}))) == sorted(
        (field, "required") for field in REQUIRED
    )


def test_every_invalid_field_is_reported_in_one_answer(client: TestClient) -> None:
    # Regression: the ZIP and the email provider were checked only once every other field was
    # valid, so a signer could be sent back three times.
    body = signer(first_name="", email="someone@mailinator.com", postal_code="00000")
    assert sorted(errors_of(client.post(SIGN_URL, json=body))) == [
        ("email", "disposable_email"),
        ("first_name", "required"),
        ("postal_code", "unknown_postal_code"),
    ]
    body = signer(email="not-an-email", postal_code="00000", comment="x" * 501)
    assert sorted(errors_of(client.post(SIGN_URL, json=body))) == [
        ("comment", "too_long"),
        ("email", "invalid_email"),
        ("postal_code", "unknown_postal_code"),
    ]


def test_a_postal_code_is_not_judged_against_a_refused_country(client: TestClient) -> None:
    body = signer(country="XX", postal_code="SW1A 1AA")
    assert errors_of(client.post(SIGN_URL, json=body)) == [("country", "invalid_country")]


CODES = [
    ({"email": "not-an-email"}, "email", "invalid_email"),
    ({"email": "a@b"}, "email", "invalid_email"),
    ({"email": "x@mailinator.com"}, "email", "disposable_email"),
    ({"first_name": ""}, "first_name", "required"),
    ({"first_name": "   "}, "first_name", "required"),
    ({"first_name": "x" * 101}, "first_name", "too_long"),
    ({"first_name": '=HYPERLINK("x")'}, "first_name", "formula_prefix"),
    ({"first_name": "Ana\x07"}, "first_name", "control_characters"),
    ({"first_name": "Ana\x00"}, "first_name", "unstorable_text"),
    ({"last_name": "buy cheap at pills.com"}, "last_name", "contains_address"),
    ({"postal_code": "3280"}, "postal_code", "invalid_zip_code"),
    ({"postal_code": "00000"}, "postal_code", "unknown_postal_code"),
    ({"postal_code": "SW1A <1AA>", "country": "GB"}, "postal_code", "invalid_format"),
    ({"postal_code": "X" * 17, "country": "GB"}, "postal_code", "too_long"),
    ({"country": "XX"}, "country", "invalid_country"),
    ({"country": "USA"}, "country", "too_long"),
    ({"comment": "x" * 501}, "comment", "too_long"),
    ({"locale": "fr"}, "locale", "invalid_choice"),
    ({"display_publicly": "maybe"}, "display_publicly", "wrong_type"),
    ({"admin": True}, "admin", "unknown_field"),
]


@pytest.mark.parametrize(("override", "field", "code"), CODES)
def test_codes_are_ours_and_stable(client: TestClient, override, field, code) -> None:
    assert errors_of(client.post(SIGN_URL, json=signer(**override))) == [(field, code)]


def message_pattern(code: str, lang: str) -> re.Pattern[str]:
    template = re.escape(MESSAGES[code][lang])
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", ".+", template) + "$")


@pytest.mark.parametrize("lang", ["en", "es"])
def test_messages_are_ours_in_the_language_asked_for(client: TestClient, lang: str) -> None:
    header = {"en": "en-US,en;q=0.9", "es": "es-US,es;q=0.9,en;q=0.5"}[lang]
    for override, _, _ in CODES:
        response = client.post(
            SIGN_URL, json=signer(**override), headers={"Accept-Language": header}
        )
        body = assert_problem(response, 422)
        for error in body["errors"]:
            assert message_pattern(error["code"], lang).match(error["message"]), error
    spanish = client.post(SIGN_URL, json={}, headers={"Accept-Language": "es"}).json()
    assert spanish["detail"].startswith("La solicitud no es válida.")
    assert {e["message"] for e in spanish["errors"]} == {"Este campo es obligatorio."}


def test_every_code_has_both_languages_and_every_mapping_a_message() -> None:
    for code, messages in MESSAGES.items():
        assert set(messages) == {"en", "es"}, code
        assert re.findall(r"\{\w+\}", messages["en"]) == re.findall(r"\{\w+\}", messages["es"])
    assert set(PYDANTIC_CODES.values()) <= set(MESSAGES)


def test_codes_are_listed_in_the_document(client: TestClient) -> None:
    code = client.get("/openapi.json").json()["components"]["schemas"]["FieldError"]
    description = code["properties"]["code"]["description"]
    for name in MESSAGES:
        assert f"`{name}`" in description


def _email_of_length(length: int) -> str:
    local = "a" * 64
    labels, remaining = [], length - len(local) - 1 - len(".org")
    while remaining > 0:
        size = min(63, remaining)
        if remaining - size == 1:  # a label needs a character after its dot
            size -= 1
        labels.append("b" * size)
        remaining -= size + 1
    return f"{local}@{'.'.join(labels)}.org"


# A valid value of any length for each field, so only its length is being judged.
SAMPLES = {
    "first_name": lambda n: "A" * n,
    "last_name": lambda n: "B" * n,
    "email": _email_of_length,
    "postal_code": lambda n: "A" * n,  # with country GB: any letters and digits
    "country": lambda n: "GB"[:n] if n <= 2 else "G" * n,
    "comment": lambda n: "c" * n,
    "website": lambda n: "w" * n,
    "ref": lambda n: "r" * n,
}


def test_the_schema_states_the_limits_the_server_enforces(client: TestClient) -> None:
    # Regression: names declared maxLength 200 while the server refused more than 100, and no
    # minLength though an empty name was refused.
    schema = client.get("/openapi.json").json()["components"]["schemas"]["SignatureCreate"]
    checked = []
    for field, spec in schema["properties"].items():
        limits = [spec] + [option for option in spec.get("anyOf", []) if "type" in option]
        limit = next((option for option in limits if "maxLength" in option), None)
        if limit is None:
            continue
        checked.append(field)
        sample = SAMPLES[field]
        top, bottom = limit["maxLength"], limit.get("minLength", 0)
        for length, accepted in ((top, True), (top + 1, False), (bottom, True)):
            if field == "country" and length != 2:
                continue  # a 2-letter code (3 letters: in CODES; 1 letter: below)
            if field == "email" and length < 6:
                continue  # the shortest address our sample makes is a@b.org
            body = signer(**{"country": "GB", field: sample(length)})
            response = client.post(SIGN_URL, json=body)
            fields = [] if response.status_code == 202 else [f for f, _ in errors_of(response)]
            assert (field not in fields) is accepted, (field, length, response.text)
        if bottom > 0:
            body = signer(**{"country": "GB", field: sample(bottom - 1)})
            assert field in [f for f, _ in errors_of(client.post(SIGN_URL, json=body))]
    assert sorted(checked) == sorted(SAMPLES)


def test_an_idempotency_key_error_speaks_the_language_asked_for(client: TestClient) -> None:
    # Answered by middleware before any route runs; it too reads Accept-Language.
    response = client.post(
        SIGN_URL, json=signer(), headers={"Idempotency-Key": "not a key", "Accept-Language": "es"}
    )
    assert errors_of(response) == [("Idempotency-Key", "invalid_idempotency_key")]
    assert response.json()["errors"][0]["message"] == MESSAGES["invalid_idempotency_key"]["es"]
