"""The npm packages pinned in tests/web/package-lock.json, installed with `npm ci` when missing
or older than the lock (axe-core for the page tests; openapi-typescript and typescript for the
contract tests)."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

import pytest

WEB_TESTS = Path(__file__).resolve().parent
NODE_MODULES = WEB_TESTS / "node_modules"


def npm_ci() -> Path:
    installed = NODE_MODULES / ".package-lock.json"
    lock = WEB_TESTS / "package-lock.json"
    # `make test` runs the SQLite and PostgreSQL suites at once: one installs while the other
    # waits (two `npm ci` in one folder would delete each other's files).
    with open(WEB_TESTS / ".npm-ci.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if not installed.exists() or lock.stat().st_mtime > installed.stat().st_mtime:
            npm = shutil.which("npm")
            if npm is None:
                pytest.fail("npm is missing: run .ci/system-deps (apt-get install npm)")
            subprocess.run(
                [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                cwd=WEB_TESTS,
                check=True,
                capture_output=True,
                timeout=300,
            )
    return NODE_MODULES
