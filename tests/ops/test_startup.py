"""What a server process loads at start: the app, and not what only a few requests need.

Every module imported at start is paid for by every start (BENCHMARKS.md: cold start), so the
ones that serve one rare request are imported by that request instead."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.ops.servers import process_env

# Each with what needs it: imported by that code path on first use.
LOADED_ON_FIRST_USE = {
    "PIL": "the share image (api.web.share)",
    "babel.dates": "dates on the no-script signatures page (api.web.i18n)",
    "h11": "uvicorn's other HTTP parser; `advocacy serve` runs httptools (api.capacity)",
    "api.admin.routers": "the admin API, built on its first request (api.routing)",
}


def _modules_after_start(env: dict[str, str]) -> set[str]:
    """Module names loaded by importing the app as `advocacy serve` does (api.cli, api.asgi)."""
    script = "import json, sys, api.cli, api.asgi; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout))


def test_a_start_loads_none_of_what_one_rare_request_needs(settings, tmp_path):
    loaded = _modules_after_start(process_env(settings.database_url, tmp_path))
    assert "api.asgi" in loaded and "fastapi" in loaded  # the app itself was built
    unexpected = {name: why for name, why in LOADED_ON_FIRST_USE.items() if name in loaded}
    assert not unexpected, unexpected


def test_a_start_on_sqlite_does_not_load_postgresql(tmp_path):
    # The engine loads its own dialect; PostgreSQL's package (~40 ms) is not needed on SQLite.
    env = process_env(f"sqlite:///{tmp_path / 'start.db'}", tmp_path)
    loaded = _modules_after_start(env)
    assert "api.asgi" in loaded
    assert not [name for name in loaded if name.startswith("sqlalchemy.dialects.postgresql")]
    assert "psycopg" not in loaded
