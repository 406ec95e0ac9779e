"""What the container image runs, run here: no image can be built or started on these machines,
so the Dockerfile's steps are taken in a temporary directory instead (build the wheel, install
the locked dependencies and the wheel, not editable, into a clean virtualenv) and the installed
`advocacy` migrates, seeds, serves and takes a signature end to end, from outside the checkout,
with the migrations and seed data bundled in the wheel."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import httpx

from tests.ops.servers import process_env
from tests.petitions.helpers import SIGN_URL, signer
from tests.servers import running_server

REPO = Path(__file__).resolve().parents[2]
UV = REPO / ".tools" / "bin" / "uv"

# The Dockerfile's build steps, as run below (uv's options for this machine aside).
DOCKERFILE_STEPS = [
    "uv sync --frozen --no-dev --no-install-project",
    "uv build --wheel --out-dir /dist",
    "uv pip install --python /opt/venv/bin/python --no-deps /dist/*.whl",
]


def _uv(args: list[str], env: dict[str, str]) -> None:
    """Run uv from the shared cache first (fast, no network); online only if that fails."""
    offline = subprocess.run(
        [str(UV), *args, "--offline"], cwd=REPO, env=env, capture_output=True, timeout=300
    )
    if offline.returncode == 0:
        return
    online = subprocess.run([str(UV), *args], cwd=REPO, env=env, capture_output=True, timeout=300)
    assert online.returncode == 0, online.stderr.decode()[-3000:]


def test_the_dockerfile_runs_the_steps_this_test_takes():
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    commands = [
        " ".join(part.split())
        for line in re.findall(r"^RUN (.+)$", text, flags=re.MULTILINE)
        for part in line.split("&&")
    ]
    for step in DOCKERFILE_STEPS:
        assert step in commands, f"the Dockerfile no longer runs: {step}"


def test_the_installed_wheel_migrates_seeds_serves_and_takes_a_signature(tmp_path):
    assert UV.exists(), f"{UV} is missing: run `make bytecode` first"
    dist, venv, run = tmp_path / "dist", tmp_path / "venv", tmp_path / "run"
    run.mkdir()
    uv_env = {
        **{k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")},
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    _uv(["build", "--wheel", "--out-dir", str(dist)], uv_env)
    _uv(["sync", "--frozen", "--no-dev", "--no-install-project", "--python", "python3.11"], uv_env)
    wheels = list(dist.glob("*.whl"))
    assert len(wheels) == 1
    _uv(
        ["pip", "install", "--python", str(venv / "bin/python"), "--no-deps", str(wheels[0])],
        uv_env,
    )

    advocacy = str(venv / "bin" / "advocacy")
    where = subprocess.run(
        [
            str(venv / "bin/python"),
            "-c",
            "import api.resources as r; print(r.resource_dir('migrations'))",
        ],
        cwd=run,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"{venv}/lib/" in where.stdout and "_bundled" in where.stdout, where

    env = process_env(
        f"sqlite:///{run / 'var' / 'advocacy.db'}",
        run / "var",
        MAIL_WORKER_IN_PROCESS="true",
        MAIL_POLL_SECONDS="0.1",
    )
    for command in (["migrate"], ["seed"]):
        done = subprocess.run(
            [advocacy, *command], cwd=run, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
    with running_server(env, tmp_path / "server.log", command=[advocacy], cwd=run) as server:
        page = httpx.get(f"{server.url}/", timeout=10)
        assert page.status_code == 200 and "arrest" in page.text.lower()
        signed = httpx.post(f"{server.url}{SIGN_URL}", json=signer(), timeout=30)
        assert signed.status_code == 202, signed.text
        deadline = time.monotonic() + 20
        while not list((run / "var" / "mail").glob("*.eml")):
            assert time.monotonic() < deadline, "the confirmation mail was not written"
            time.sleep(0.1)
        server.terminate()
    mail = next((run / "var" / "mail").glob("*.eml")).read_text()
    assert "/confirm?token=" in mail
