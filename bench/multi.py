"""Several instances: two API processes (two ports standing in for two hosts) on one PostgreSQL
(and Redis when it answers), one `advocacy worker` beside them, load split across both.

Checks, each an error when it fails:
* every acknowledged (202) signature is stored exactly once, and a signer who signs on both
  instances at the same moment is stored once;
* every signer gets exactly one confirmation mail (the SMTP sink counts per recipient), and a
  signer who signed twice at most EMAILS_PER_SIGNATURE;
* after confirming (half the signers, links taken from the mails, split across both
  instances), `/count` on both instances equals the number of confirmed rows within a few
  seconds.
Rate limits are off (RATE_LIMIT_ENABLED=false) as in every scenario, so their sharing through
Redis is not exercised here.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from api.petitions.service import EMAILS_PER_SIGNATURE
from bench.report import Knobs, Row
from bench.servers import ADVOCACY, Server, free_port, fresh_database, prepare, service_env

SLUG = "florida-minimum-arrest-age-12"
CONVERGE_SECONDS = 5.0


def _redis_url() -> str | None:
    done = (
        subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"],
            capture_output=True,
            text=True,
            check=False,
        )
        if _has("redis-cli")
        else None
    )
    return "redis://127.0.0.1:6379/0" if done and done.stdout.strip() == "PONG" else None


def _has(program: str) -> bool:
    import shutil

    return shutil.which(program) is not None


def _signer(email: str, zip_code: str) -> dict[str, object]:
    return {
        "first_name": "Multi",
        "last_name": "Instance",
        "email": email,
        "postal_code": zip_code,
        "country": "US",
        "display_publicly": False,
        "locale": "en",
    }


async def _sign_all(
    bases: list[str], distinct: list[str], racing: list[str], concurrency: int
) -> tuple[set[str], list[str], float]:
    """Sign every distinct address once (alternating instances) and every racing address on
    both instances at once. Returns the acknowledged addresses, the failures, the seconds."""
    zips = ["32801", "33101", "32301", "10001", "94103"]
    acknowledged: set[str] = set()
    failures: list[str] = []
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    clients = [httpx.AsyncClient(base_url=b, timeout=30, limits=limits) for b in bases]

    async def sign(client: httpx.AsyncClient, email: str, i: int) -> None:
        async with gate:
            try:
                answer = await client.post(
                    f"/v1/petitions/{SLUG}/signatures", json=_signer(email, zips[i % len(zips)])
                )
            except httpx.HTTPError as exc:
                failures.append(f"{email}: {type(exc).__name__}")
                return
            if answer.status_code == 202:
                acknowledged.add(email)
            else:
                failures.append(f"{email}: {answer.status_code}")

    started = time.perf_counter()
    jobs = [sign(clients[i % 2], email, i) for i, email in enumerate(distinct)]
    for i, email in enumerate(racing):
        jobs += [sign(clients[0], email, i), sign(clients[1], email, i)]
    random.shuffle(jobs)
    await asyncio.gather(*jobs)
    took = time.perf_counter() - started
    for client in clients:
        await client.aclose()
    return acknowledged, failures, took


async def _confirm_all(bases: list[str], tokens: list[str], concurrency: int) -> list[str]:
    failures: list[str] = []
    gate = asyncio.Semaphore(concurrency)
    clients = [httpx.AsyncClient(base_url=b, timeout=30) for b in bases]

    async def confirm(client: httpx.AsyncClient, token: str) -> None:
        async with gate:
            answer = await client.post("/v1/signatures/confirm", json={"token": token})
            if answer.status_code != 200:
                failures.append(str(answer.status_code))

    await asyncio.gather(*(confirm(clients[i % 2], t) for i, t in enumerate(tokens)))
    for client in clients:
        await client.aclose()
    return failures


def run_multi_instance(knobs: Knobs, work_dir: Path) -> list[Row]:
    rows: list[Row] = []
    redis_url = _redis_url()
    with fresh_database("postgresql", work_dir / "db") as url:
        var_dir = work_dir / "var-multi"
        var_dir.mkdir(parents=True, exist_ok=True)
        extra = {"REDIS_URL": redis_url} if redis_url else {}
        env = service_env(url, var_dir, **extra)
        prepare(env)
        smtp_port, stats_port = free_port(), free_port()
        sink = Server(
            env,
            command=[
                sys.executable,
                "-m",
                "bench.sink",
                "--keep",
                "--port",
                str(smtp_port),
                "--stats-port",
                str(stats_port),
            ],
        )
        worker = Server(
            {**env, "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}?timeout=10"},
            command=[ADVOCACY, "worker"],
            log_path=var_dir / "worker.log",
        )
        apis = [Server(env, workers=1, log_path=var_dir / f"api-{i}.log") for i in range(2)]
        stats_url = f"http://127.0.0.1:{stats_port}"
        with sink, worker, apis[0], apis[1]:
            for api in apis:
                api.wait_ready()
            _wait(lambda: httpx.get(stats_url + "/stats").status_code == 200, 20)
            n = knobs.multi_signers
            label = f"mi{int(time.time())}"
            distinct = [f"{label}.{i}@example.org" for i in range(n)]
            racing = [f"{label}.race{i}@example.org" for i in range(max(5, n // 40))]
            bases = [api.base_url for api in apis]
            acknowledged, failures, took = asyncio.run(
                _sign_all(bases, distinct, racing, knobs.connections)
            )
            row = Row(
                "multi-instance sign",
                "postgresql",
                rate=(len(distinct) + 2 * len(racing)) / took,
                target="every 202 stored once; one mail each; counts equal on both",
            )
            problems: list[str] = [f"{len(failures)} requests failed"] if failures else []

            engine = create_engine(url)
            with engine.connect() as connection:
                stored = dict(
                    connection.execute(
                        text(
                            "SELECT email, COUNT(*) FROM signature WHERE email LIKE :p "
                            "GROUP BY email"
                        ),
                        {"p": f"{label}.%"},
                    ).all()
                )
            missing = [e for e in acknowledged if stored.get(e, 0) == 0]
            doubled = [e for e, k in stored.items() if k > 1]
            if missing:
                problems.append(f"{len(missing)} acknowledged but not stored")
            if doubled:
                problems.append(f"{len(doubled)} stored twice")

            expected_mails = len(distinct) + 2 * len(racing)  # a repeat earns a reminder
            _wait(
                lambda: httpx.get(stats_url + "/stats").json()["total"] >= expected_mails,
                60,
            )
            time.sleep(1.0)  # anything sent twice would arrive now
            per_recipient = httpx.get(stats_url + "/recipients").json()
            twice = [e for e in distinct if per_recipient.get(e, 0) != 1]
            too_many = [e for e in racing if per_recipient.get(e, 0) > EMAILS_PER_SIGNATURE]
            if twice:
                problems.append(f"{len(twice)} signers did not get exactly one mail")
            if too_many:
                problems.append(f"{len(too_many)} repeat signers got too many mails")
            row.errors = len(failures) + len(missing) + len(doubled) + len(twice) + len(too_many)
            row.result = (
                f"{len(acknowledged)} acknowledged on 2 APIs, {sum(stored.values())} stored, "
                f"{sum(per_recipient.values())} mails to {len(per_recipient)} recipients"
                + ("; " + "; ".join(problems) if problems else "; all checks passed")
            )
            row.met = not problems
            rows.append(row)

            # The sink parses every message it kept to find the links: ~2,000 of them take
            # several seconds on a busy box, past httpx's 5 s default.
            tokens_by_email = httpx.get(stats_url + "/tokens", timeout=120).json()
            to_confirm = [tokens_by_email[e] for e in distinct[: n // 2] if e in tokens_by_email]
            confirm_failures = asyncio.run(_confirm_all(bases, to_confirm, knobs.connections))
            confirmed_at = time.perf_counter()
            with engine.connect() as connection:
                rows_confirmed = int(
                    connection.execute(
                        text("SELECT COUNT(*) FROM signature WHERE status = 'confirmed'")
                    ).scalar()
                    or 0
                )
            engine.dispose()

            def counts() -> list[int]:
                return [
                    httpx.get(f"{b}/v1/petitions/{SLUG}/count").json()["verified"] for b in bases
                ]

            converged = _wait(lambda: counts() == [rows_confirmed] * 2, 15)
            lag = time.perf_counter() - confirmed_at
            seen = counts()
            count_row = Row(
                "multi-instance counts",
                "postgresql",
                target=f"equal on both within {CONVERGE_SECONDS:g} s",
                result=f"{len(to_confirm)} confirmed across both; /count {seen[0]} and {seen[1]} "
                f"= {rows_confirmed} rows after {lag:.2f} s",
                met=converged and lag <= CONVERGE_SECONDS and not confirm_failures,
            )
            count_row.errors = len(confirm_failures) + (0 if converged else 1)
            if len(to_confirm) < n // 2:
                count_row.errors += 1
                count_row.notes.append(f"only {len(to_confirm)} confirm links found")
            if not redis_url:
                count_row.notes.append("(Redis not reachable: REDIS_URL unset)")
            rows.append(count_row)
    return rows


def _wait(check, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False
