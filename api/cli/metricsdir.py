"""The directory of a server's Prometheus multi-process files: its own, and empty at start.

prometheus-client keeps each worker process's values in files in PROMETHEUS_MULTIPROC_DIR and
/metrics sums every file there (api.metrics). Files left by a previous run would be added to
this one's, and files of another server running on the same VAR_DIR (a second one started for
a blue-green switch, or a cold-start check beside a loaded one) would be added, or deleted by
its start. So each `advocacy serve` takes a directory of its own under the base directory
(PROMETHEUS_MULTIPROC_DIR if set, else VAR_DIR/metrics) and removes those of servers that have
exited.

A server holds an exclusive flock on its directory's lock file for as long as any of its
processes lives (the forked workers inherit it; the kernel lets go when the last one exits,
kill -9 included). A directory whose lock can be taken belongs to no running server, whatever
became of its pid. This module imports nothing of prometheus-client: it runs before that is
first imported, which reads the variable once.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import IO

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "serve-"
LOCK_NAME = ".lock"
# A directory without its lock file is being made (for a moment) or was left by a process that
# died in that moment; only the second kind is this old.
UNLOCKED_GRACE_SECONDS = 60.0

_held: list[IO[bytes]] = []  # the lock files this process holds, open for its whole life


def own_metrics_dir(var_dir: Path) -> Path:
    """Point PROMETHEUS_MULTIPROC_DIR at a new empty directory held by this server, after
    removing the directories of servers that have exited; return it."""
    base = Path(os.environ.get(MULTIPROC_ENV) or var_dir / "metrics").resolve()
    base.mkdir(parents=True, exist_ok=True)
    remove_exited(base)
    while True:
        directory = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base))
        lock = open(directory / LOCK_NAME, "wb")  # noqa: SIM115 (held until the process exits)
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # new: nobody else holds it
        # Another server's start may have taken it between our open and our lock, and removed
        # the directory: then the lock is on a deleted file. Start again with a new one.
        if os.fstat(lock.fileno()).st_nlink > 0:
            break
        lock.close()
    _held.append(lock)
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory


def remove_exited(base: Path) -> list[Path]:
    """Remove the directories under `base` that no running server holds; return them."""
    removed = []
    for directory in base.glob(f"{PREFIX}*"):
        try:
            lock = open(directory / LOCK_NAME, "rb")  # noqa: SIM115 (closed below)
        except FileNotFoundError:
            if _older_than(directory, UNLOCKED_GRACE_SECONDS):
                shutil.rmtree(directory, ignore_errors=True)
                removed.append(directory)
            continue
        except (NotADirectoryError, PermissionError):
            continue
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a running server's
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory)
    return removed


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except FileNotFoundError:
        return False
