"""Logs are data: one line per record (no forging with %0d%0a), JSON on request, request ids."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.petitions.helpers import SLUG

FORGED_TIME = "1999-12-31 23:59:59,000"
FORGED = f"%0d%0a{FORGED_TIME} INFO api.access [-] GET forged-admin-audit 200 1.0ms"


def _lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_crlf_in_a_url_path_never_starts_a_log_line(settings, clean_database, capsys, log_format):
    app = create_app(settings.model_copy(update={"log_format": log_format}))
    with TestClient(app) as client:
        assert client.get(f"/v1/petitions/{SLUG}{FORGED}/count").status_code in (404, 422)
        assert client.get(f"/nowhere{FORGED}").status_code == 404
        # A log line that includes request data (here, a message with a path in it).
        logging.getLogger("api.test").warning("odd path %s", "/x\r\nINFO api.access forged")
    lines = _lines(capsys)
    assert not [line for line in lines if line.startswith(FORGED_TIME)]
    assert not [line for line in lines if line.startswith("INFO api.access forged")]
    if log_format == "json":
        records = [json.loads(line) for line in lines]
        access = [r for r in records if r["logger"] == "api.access"]
        assert {r["route"] for r in access} == {"/v1/petitions/{slug}/count", "(unmatched)"}
        assert {r["status"] for r in access} <= {404, 422}
        for record in access:
            assert set(record) >= {"time", "level", "request_id", "route", "method", "status"}
            assert record["duration_ms"] >= 0
        odd = next(r for r in records if r["logger"] == "api.test")
        assert odd["message"] == "odd path /x\r\nINFO api.access forged"  # kept, as JSON escapes
    else:
        assert any("odd path /x\\r\\nINFO api.access forged" in line for line in lines)
        assert all(line[:4].isdigit() or line.startswith("    ") for line in lines), lines


def test_a_traceback_stays_inside_its_record(settings, capsys):
    from api.logs import configure_logging

    configure_logging(settings)
    try:
        raise ValueError("bad value\r\n2026-12-02 INFO forged")
    except ValueError:
        logging.getLogger("api.test").exception("it failed")
    lines = _lines(capsys)
    assert lines[0].endswith("it failed")
    assert all(line.startswith("    ") for line in lines[1:]), lines
    assert any("bad value\\r\\n2026-12-02 INFO forged" in line for line in lines)


def test_request_id_is_returned_and_trusted_only_from_proxies(settings, clean_database, capsys):
    proxied = settings.model_copy(update={"trusted_proxies": ["10.0.0.0/8"], "log_format": "json"})
    app = create_app(proxied)
    with TestClient(app, client=("10.1.2.3", 5000)) as via_proxy:
        given = via_proxy.get("/healthz", headers={"X-Request-ID": "lb-7f3a2c1d-0001"})
        assert given.headers["x-request-id"] == "lb-7f3a2c1d-0001"
        # A malformed id (control characters, too long) is replaced, even from a proxy.
        odd = via_proxy.get("/healthz", headers={"X-Request-ID": "a\tb" * 100})
        assert odd.headers["x-request-id"] != "a\tb" * 100
    with TestClient(app, client=("203.0.113.9", 5000)) as direct:
        made = direct.get("/healthz", headers={"X-Request-ID": "client-chosen-id-123"})
        assert made.headers["x-request-id"] != "client-chosen-id-123"
        assert len(made.headers["x-request-id"]) == 32
    records = [json.loads(line) for line in _lines(capsys)]
    ids = [r["request_id"] for r in records if r["logger"] == "api.access"]
    assert ids[0] == "lb-7f3a2c1d-0001"
    assert made.headers["x-request-id"] in ids


def test_the_worker_command_sets_up_logging(settings, clean_database, tmp_path):
    """`advocacy worker` logs like the server: LOG_FORMAT and LOG_LEVEL take effect."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "VAR_DIR": str(tmp_path),
        "MAIL_DIR": str(tmp_path / "mail"),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
    }
    advocacy = Path(sys.executable).parent / "advocacy"
    done = subprocess.run(
        [str(advocacy), "worker", "--once"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert any(r["message"].startswith("mail worker started") for r in records), records
    quiet = subprocess.run(
        [str(advocacy), "worker", "--once"],
        env={**env, "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert quiet.returncode == 0, quiet.stderr
    assert "mail worker started" not in quiet.stderr
