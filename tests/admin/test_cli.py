"""`advocacy create-api-key`, `revoke-api-key` and `list-api-keys`."""

from __future__ import annotations

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from api.admin.models import ApiKey
from api.cli import app as cli
from api.db import Database
from tests.admin.helpers import auth
from tests.petitions.helpers import SLUG
from tests.test_errors import assert_problem


@pytest.fixture(autouse=True)
def _fresh_settings_cache():
    from api.config import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def run(database_url: str):
    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": database_url})

    return invoke


def test_create_use_list_and_revoke(run, client, clean_database: Database) -> None:
    made = run("create-api-key", "--name", "delivery", "--scopes", "signatures:read, audit:read")
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    assert key.startswith("adv_") and len(key) > 40
    assert "cannot be shown again" in made.stderr
    with clean_database.session() as session:
        [row] = session.exec(select(ApiKey)).all()
    assert row.key_hash != key and key not in row.key_hash  # only the hash is kept
    assert row.scopes == ["signatures:read", "audit:read"]

    assert client.get("/v1/admin/signatures", headers=auth(key)).status_code == 200
    assert_problem(client.get("/v1/admin/petitions", headers=auth(key)), 403)
    entries = client.get("/v1/admin/audit", headers=auth(key)).json()["items"]
    assert [(e["action"], e["key_name"]) for e in entries] == [("api_key.create", "cli")]
    assert key not in str(entries)

    listed = run("list-api-keys")
    assert "delivery" in listed.stdout and "active" in listed.stdout
    assert key not in listed.stdout

    taken = run("create-api-key", "--name", "delivery", "--scopes", "audit:read")
    assert taken.exit_code == 2 and "already named" in taken.stderr

    revoked = run("revoke-api-key", "delivery")
    assert revoked.exit_code == 0, revoked.output
    body = assert_problem(client.get("/v1/admin/signatures", headers=auth(key)), 401)
    assert "revoked" in body["detail"]
    assert "revoked" in run("list-api-keys").stdout
    assert run("revoke-api-key", "delivery").exit_code == 1  # no active key by that name


def test_revoke_by_id(run, client) -> None:
    key = run("create-api-key", "--name", "staff", "--scopes", "petitions:write").stdout.strip()
    assert client.get(f"/v1/admin/petitions/{SLUG}", headers=auth(key)).status_code == 200
    key_id = run("list-api-keys").stdout.split("\t")[0]
    assert run("revoke-api-key", key_id).exit_code == 0
    assert_problem(client.get(f"/v1/admin/petitions/{SLUG}", headers=auth(key)), 401)


def test_unknown_scopes_are_refused(run) -> None:
    result = run("create-api-key", "--name", "x", "--scopes", "petitions:write,admin:all")
    assert result.exit_code == 2
    assert "unknown scope 'admin:all'" in result.stderr
    assert run("create-api-key", "--name", "x", "--scopes", " , ").exit_code == 2
    note = run("create-api-key", "--name", "y", "--scopes", "signatures:export")
    assert note.exit_code == 0 and "needs signatures:read" in note.stderr
