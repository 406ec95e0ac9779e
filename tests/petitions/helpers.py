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


def close_long_ago(database: Any, days: int = 181) -> None:
    """Close every petition `days` ago: past the default retention."""
    import datetime as dt

    from sqlalchemy import update

    from api.db import utcnow
    from api.petitions.models import Petition

    with database.session(write=True) as session:
        session.exec(
            update(Petition).values(status="closed", closed_at=utcnow() - dt.timedelta(days=days))
        )


def run_anonymize(database_url: str) -> str:
    """`advocacy anonymize` through the CLI; returns its output."""
    from typer.testing import CliRunner

    from api.cli import app as cli
    from api.config import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(
        cli, ["anonymize"], env={"DATABASE_URL": database_url, "SECRET_KEY": "x"}
    )
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output
