"""api.cli.metricsdir: which multi-process metrics directories a starting server removes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from api.cli import metricsdir

HOLD = (
    "import fcntl, sys; lock = open(sys.argv[1], 'wb'); fcntl.flock(lock, fcntl.LOCK_EX);"
    " print('held', flush=True); sys.stdin.read()"
)


def _server_dir(base, name):
    directory = base / f"{metricsdir.PREFIX}{name}"
    directory.mkdir(parents=True)
    (directory / "counter_123.db").write_bytes(b"values")
    return directory


def test_only_directories_no_live_process_holds_are_removed(tmp_path):
    live, exited = _server_dir(tmp_path, "live"), _server_dir(tmp_path, "exited")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(live / metricsdir.LOCK_NAME)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        # The exited server's lock file is there, held by nobody (its process was killed).
        (exited / metricsdir.LOCK_NAME).touch()
        assert metricsdir.remove_exited(tmp_path) == [exited]
        assert (live / "counter_123.db").exists()
    finally:
        holder.kill()
        holder.wait()
    # Its holder gone (kill -9: the kernel lets go of the lock), the next start removes it.
    assert metricsdir.remove_exited(tmp_path) == [live]
    assert list(tmp_path.iterdir()) == []


def test_a_directory_without_its_lock_is_removed_only_once_it_is_old(tmp_path):
    being_made = _server_dir(tmp_path, "new")
    assert metricsdir.remove_exited(tmp_path) == []
    old = time.time() - metricsdir.UNLOCKED_GRACE_SECONDS - 1
    os.utime(being_made, (old, old))
    assert metricsdir.remove_exited(tmp_path) == [being_made]


def test_a_server_takes_an_empty_directory_of_its_own(tmp_path, monkeypatch):
    monkeypatch.delenv(metricsdir.MULTIPROC_ENV, raising=False)
    previous = _server_dir(tmp_path / "metrics", "previous")  # a server that has exited
    (previous / metricsdir.LOCK_NAME).touch()
    monkeypatch.setattr(metricsdir, "_held", [])
    try:
        own = metricsdir.own_metrics_dir(tmp_path)
        assert os.environ[metricsdir.MULTIPROC_ENV] == str(own)
        assert own.parent == (tmp_path / "metrics").resolve()
        assert [p.name for p in own.iterdir()] == [metricsdir.LOCK_NAME]
        assert not previous.exists()
        # Held while this process lives: another start leaves it alone.
        assert metricsdir.remove_exited(own.parent) == []
    finally:
        for lock in metricsdir._held:
            lock.close()
        # Set by own_metrics_dir, not through monkeypatch: a later import of prometheus-client
        # in this process must not find it.
        os.environ.pop(metricsdir.MULTIPROC_ENV, None)
