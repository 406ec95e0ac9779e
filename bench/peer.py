"""The naive peer (../shared/bench/naive_peer_app.py): what a user would write instead of this
service, measured in the same run on the same machine so every run prints our ratio to it.

It runs under uvicorn with the same worker count as the service, on a fresh database of the
same kind, with uvicorn's access log off (the service is measured at LOG_LEVEL=WARNING, which
writes no access lines either). When the folder is absent the run says so and goes on.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.servers import BIN, ROOT, Server, free_port, fresh_database

PEER_DIR = Path(os.environ.get("BENCH_PEER_DIR", ROOT.parent / "shared" / "bench"))
PEER_APP = PEER_DIR / "naive_peer_app.py"
PEER_SIGN_LUA = PEER_DIR / "naive_sign.lua"


def available() -> bool:
    return PEER_APP.is_file() and PEER_SIGN_LUA.is_file()


def _env(database_url: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(PEER_DIR), "DB": database_url}


@contextlib.contextmanager
def peer_server(kind: str, work_dir: Path, workers: int, log_path: Path) -> Iterator[Server]:
    """The peer on a fresh `kind` database, ready on /anoop."""
    with fresh_database(kind, work_dir / "peer-db") as url:
        env = _env(url)
        # Its startup hook creates the table; with two workers on PostgreSQL both would race
        # to CREATE TABLE, so the table is made once before.
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import naive_peer_app as app; app.SQLModel.metadata.create_all(app.engine)",
            ],
            env=env,
            cwd=ROOT,
            check=True,
        )
        port = free_port()
        command = [str(BIN / "uvicorn"), "naive_peer_app:app", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--workers", str(workers)]
        command += ["--log-level", "warning", "--no-access-log"]
        server = Server(env, port=port, log_path=log_path, command=command)
        with server:
            server.wait_ready(path="/anoop")
            yield server
