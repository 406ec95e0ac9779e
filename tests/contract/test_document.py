"""The OpenAPI document is valid, reads well in generated code, and documents what is sent."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from tests.petitions.helpers import SIGN_URL, SLUG, signer

CSL = "application/vnd.citationstyles.csl+json"


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()


def operations(spec: dict[str, Any]):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    # Regression: GET /v1/sources/{id} referred to a CslItem schema that did not exist.
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_operation_ids_are_readable_and_stable(spec: dict[str, Any]) -> None:
    ids = {(method, path): op["operationId"] for path, method, op in operations(spec)}
    assert len(set(ids.values())) == len(ids)
    for operation_id in ids.values():
        assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", operation_id), operation_id
    public = {
        ("get", "/v1/facts"): "listFacts",
        ("get", "/v1/facts/{fact_id}"): "getFact",
        ("get", "/v1/sources"): "listSources",
        ("get", "/v1/sources/{source_id}"): "getSource",
        ("get", "/v1/incident"): "getIncident",
        ("get", "/v1/timeline"): "getTimeline",
        ("get", "/v1/discrepancies"): "listDiscrepancies",
        ("get", "/v1/petitions"): "listPetitions",
        ("get", "/v1/petitions/{slug}"): "getPetition",
        ("get", "/v1/petitions/{slug}/count"): "getPetitionCount",
        ("get", "/v1/petitions/{slug}/stats"): "getPetitionStats",
        ("get", "/v1/petitions/{slug}/events"): "streamPetitionCount",
        ("get", "/v1/petitions/{slug}/signatures/recent"): "listRecentSignatures",
        ("post", "/v1/petitions/{slug}/signatures"): "signPetition",
        ("post", "/v1/signatures/confirm"): "confirmSignature",
        ("post", "/v1/signatures/withdraw"): "withdrawSignature",
        ("post", "/v1/signatures/access"): "requestSignatureAccess",
        ("post", "/v1/signatures/mine"): "listMySignatures",
        ("post", "/v1/signatures/mine/withdraw"): "withdrawMySignature",
    }
    assert {key: ids[key] for key in public} == public
    assert ids[("get", "/v1/admin/petitions")] == "adminListPetitions"


def test_schema_names_and_enums_are_named(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for name in schemas:
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", name), name
    assert {"FactPage", "SourcePage", "PetitionPage", "CslItem", "Language"} <= set(schemas)

    def inline_enums(node: Any, where: str) -> list[str]:
        found = []
        if isinstance(node, dict):
            if "enum" in node and len(node["enum"]) > 1:
                found.append(where)
            for key, value in node.items():
                found += inline_enums(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                found += inline_enums(value, f"{where}/{index}")
        return found

    # An enum of several values is a schema of its own, never inline (generators would name
    # inline ones Status1, Status2, ...).
    for name, schema in schemas.items():
        if "enum" in schema:
            continue
        assert inline_enums(schema, name) == []
    for path, method, operation in operations(spec):
        assert inline_enums(operation.get("parameters", []), f"{method} {path}") == []


def test_request_fields_with_defaults_are_optional(spec: dict[str, Any]) -> None:
    signature = spec["components"]["schemas"]["SignatureCreate"]
    assert sorted(signature["required"]) == ["email", "first_name", "last_name", "postal_code"]
    assert signature["properties"]["country"]["default"] == "US"


def test_try_it_out_is_prefilled_and_keys_are_not_shared(spec: dict[str, Any]) -> None:
    sign = spec["paths"]["/v1/petitions/{slug}/signatures"]["post"]
    parameters = {p["name"]: p for p in sign["parameters"]}
    assert parameters["slug"]["example"] == SLUG
    # Regression: one fixed UUID was prefilled, so a second try with an edited body was a 422.
    key = parameters["Idempotency-Key"]
    assert "example" not in key and "examples" not in key and "examples" not in key["schema"]
    assert "fresh" in key["description"]
    body = spec["components"]["schemas"]["SignatureCreate"]
    assert body["examples"][0]["postal_code"] == "32801"
    for path, _, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                assert "example" in parameter, (path, parameter["name"])


def test_success_answers_have_examples(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for name in ("PetitionPublic", "CountPublic", "PetitionStats", "FactPublic", "SourcePublic"):
        assert schemas[name]["examples"], name
    for name in ("ConfirmResult", "WithdrawResult", "RecentSignature"):
        assert schemas[name]["examples"], name


def header_names(response: dict[str, Any]) -> set[str]:
    return set(response.get("headers", {}))


def test_response_headers_are_documented_where_sent(
    spec: dict[str, Any], client: TestClient
) -> None:
    paths = spec["paths"]
    count = paths["/v1/petitions/{slug}/count"]["get"]["responses"]
    assert {"ETag", "Cache-Control"} <= header_names(count["200"])
    assert "304" in count
    sign = paths["/v1/petitions/{slug}/signatures"]["post"]["responses"]
    assert {"RateLimit", "RateLimit-Policy", "Idempotent-Replayed"} <= header_names(sign["202"])
    assert {"Retry-After", "RateLimit", "RateLimit-Policy"} <= header_names(sign["429"])
    assert "Retry-After" in header_names(sign["503"])
    assert "Retry-After" in header_names(sign["409"])
    created = paths["/v1/admin/petitions"]["post"]["responses"]["201"]
    assert "Location" in header_names(created)
    for name in ("ETag", "RateLimit", "RateLimit-Policy", "Retry-After", "Idempotent-Replayed"):
        assert name in spec["components"]["headers"]

    # ... and each is sent where documented.
    response = client.get(f"/v1/petitions/{SLUG}/count")
    documented_cache = count["200"]["headers"]["Cache-Control"]["schema"]["const"]
    assert response.headers["cache-control"] == documented_cache
    again = client.get(
        f"/v1/petitions/{SLUG}/count", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code in (200, 304)  # the count's `updated_at` may have moved on
    key = str(uuid.uuid4())
    client.post(SIGN_URL, json=signer(), headers={"Idempotency-Key": key})
    replay = client.post(SIGN_URL, json=signer(), headers={"Idempotency-Key": key})
    assert replay.headers["idempotent-replayed"] == "true"


def test_cors_and_frontend_sections(spec: dict[str, Any], settings, clean_database) -> None:
    from api.main import create_app

    description = spec["info"]["description"]
    assert "## CORS" in description and "CORS_ORIGINS" in description
    assert "## How to build a frontend" in description
    partner = "https://partner.example.org"
    app = create_app(settings.model_copy(update={"cors_origins": [partner]}))
    with TestClient(app) as client:
        response = client.post(
            SIGN_URL,
            json=signer(),
            headers={"Origin": partner, "Idempotency-Key": str(uuid.uuid4())},
        )
        exposed = response.headers["access-control-expose-headers"]
        for name in ("ETag", "Retry-After", "RateLimit", "Location", "Idempotent-Replayed"):
            assert name in exposed
            assert f"`{name}`" in description.split("## CORS")[1]


def test_sources_as_csl_json_one_and_a_list(client: TestClient, spec: dict[str, Any]) -> None:
    listing = spec["paths"]["/v1/sources"]["get"]["responses"]["200"]["content"]
    assert listing[CSL]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/CslItem"},
    }
    page = client.get("/v1/sources", params={"limit": 2}, headers={"Accept": CSL})
    assert page.status_code == 200
    assert page.headers["content-type"] == CSL
    items = page.json()
    assert [item["id"] for item in items] == [
        "article-cable-ties-tweet",
        "article-please-let-me-go",
    ]
    assert page.headers["link"].endswith('; rel="next"')
    one = client.get(f"/v1/sources/{items[0]['id']}", headers={"Accept": CSL})
    assert one.json() == items[0]
