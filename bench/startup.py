"""Where a start's import time goes: the libraries one by one, then the app's own parts.

    .venv/bin/python -m bench.startup        # 5 fresh processes; each part's median and range

Each run is a new interpreter that imports, in order, what `advocacy serve` loads before it
forks its workers (api.cli serve): each library first, so that its time is its own, then the
app's tables, its routes and schemas, the built app and the ZIP table. The parts add up to the
import; the start's remaining 100-150 ms (fork, lifespan, the first /readyz) are not in it.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

RUNS = 5

# (part, the statement that loads it), in the order a start loads them.
PARTS = [
    ("typer (the CLI)", "import typer"),
    ("pydantic, pydantic-settings", "import pydantic, pydantic_settings"),
    ("SQLAlchemy", "import sqlalchemy.orm"),
    ("SQLModel", "import sqlmodel"),
    ("FastAPI, Starlette", "import fastapi, fastapi.openapi.models, starlette.applications"),
    ("uvicorn", "import uvicorn, uvicorn.protocols.http.httptools_impl"),
    ("jinja2, prometheus-client", "import jinja2, prometheus_client"),
    ("the CLI and settings (api.cli)", "import api.cli"),
    ("the app's tables (api.models)", "import api.models"),
    ("the app's routes and schemas (api.main)", "import api.main"),
    ("building the app (api.asgi)", "import api.asgi"),
    ("the ZIP table", "from api.petitions.validation import zip_place; zip_place('32801')"),
]

_ONE_RUN = f"""
import json, time
parts = {json.dumps(PARTS)}
times = []
for _name, statement in parts:
    started = time.perf_counter()
    exec(statement)
    times.append(time.perf_counter() - started)
print(json.dumps(times))
"""


def main() -> None:
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", _ONE_RUN], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(RUNS)
    ]
    totals = [sum(run) for run in runs]
    print(
        f"{RUNS} runs; import in all: median {statistics.median(totals) * 1000:.0f} ms, "
        f"{min(totals) * 1000:.0f}-{max(totals) * 1000:.0f} ms\n"
    )
    print("| part | median ms | range ms |\n|---|---|---|")
    for index, (name, _statement) in enumerate(PARTS):
        values = [run[index] * 1000 for run in runs]
        print(f"| {name} | {statistics.median(values):.0f} | {min(values):.0f}-{max(values):.0f} |")


if __name__ == "__main__":
    main()
