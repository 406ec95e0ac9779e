"""`make test` needs nothing by hand: .ci/system-deps installs what is missing where it can,
and otherwise fails naming it (never a silently skipped browser test)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_system_deps_fails_naming_what_it_cannot_install():
    # The script (a copy, in a folder any user can read: the checkout may not be) with a PATH
    # that has a shell's basics but no chromium, npm or apt-get, run as a user who may not
    # install anything.
    root = Path(tempfile.mkdtemp(prefix="system-deps-"))
    try:
        root.chmod(0o755)
        (root / ".ci").mkdir(mode=0o755)
        script = root / ".ci" / "system-deps"
        shutil.copy(REPO / ".ci" / "system-deps", script)
        script.chmod(0o755)
        bin_dir = root / "bin"
        bin_dir.mkdir(mode=0o755)
        for tool in ("dirname", "id"):
            (bin_dir / tool).symlink_to(shutil.which(tool))
        command = ["/bin/bash", str(script)]
        if os.geteuid() == 0:
            command = [shutil.which("runuser") or "runuser", "-u", "nobody", "--", *command]
        done = subprocess.run(
            command,
            env={"PATH": str(bin_dir)},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=root,
        )
    finally:
        shutil.rmtree(root)
    assert done.returncode != 0
    assert "chromium" in done.stderr and "npm" in done.stderr, done.stderr
    assert "installing" not in done.stdout


def test_make_test_runs_system_deps_first():
    makefile = (REPO / "Makefile").read_text()
    test_rule = next(line for line in makefile.splitlines() if line.startswith("test:"))
    assert test_rule.split(":", 1)[1].split()[0] == "system-deps"
    assert "\t.ci/system-deps" in makefile


def test_no_browser_test_is_skipped_for_a_missing_browser():
    conftest = (REPO / "tests" / "web" / "conftest.py").read_text()
    assert "pytest.skip(" not in conftest
