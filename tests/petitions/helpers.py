from __future__ import annotations

from typing import Any

SLUG = "florida-minimum-arrest-age-12"
SIGN_URL = f"/v1/petitions/{SLUG}/signatures"


def signer(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "first_name": "Ana",
        "last_name": "Quintanilla",
        "email": "ana.quintanilla@example.org",
        "postal_code": "32801",
        "country": "US",
        "comment": "No six-year-old belongs in a police car.",
        "display_publicly": True,
        "contact_opt_in": False,
        "locale": "en",
    }
    body.update(overrides)
    return body


def count(client) -> int:
    response = client.get(f"/v1/petitions/{SLUG}/count")
    assert response.status_code == 200, response.text
    return response.json()["verified"]
