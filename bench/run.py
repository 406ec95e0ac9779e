"""The benchmark: start the service the production way, drive load over loopback, print one
table. See bench/README.md.

    python -m bench.run              # full run (make bench)
    python -m bench.run --smoke      # a few seconds per scenario, small N (make bench-smoke)

Exits non-zero when any scenario had errors or failed a check; never because of speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from bench import datagen, peer
from bench.load import WrkResult, hold_streams, run_wrk
from bench.report import Knobs, Row, fmt, short, table
from bench.servers import (
    ADVOCACY,
    ROOT,
    SECRET_KEY,
    Server,
    free_port,
    fresh_database,
    postgres_admin_url,
    prepare,
    service_env,
)

SLUG = datagen.DEFAULT_SLUG
MAIL_DRAIN_TARGET = 500  # emails per second


class Bench:
    def __init__(self, knobs: Knobs, only: set[str] | None, work_dir: Path) -> None:
        self.knobs = knobs
        self.only = only
        self.work_dir = work_dir
        self.rows: list[Row] = []
        # The naive peer's rates in this run, by database kind and scenario ("noop", "sign",
        # "count"): every matching row of ours shows its ratio to them.
        self.peer_rates: dict[str, dict[str, float]] = {}
        # Seconds from the peer's start to its first 200: a one-file app on the same framework,
        # shown beside our cold start as the floor of the stack itself.
        self.peer_start: dict[str, float | None] = {}
        # The server the scenarios are measuring: a worker of it replaced during one is an error.
        self.serving: Server | None = None

    def wanted(self, name: str) -> bool:
        return self.only is None or name in self.only

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        status = "ERRORS" if row.failed else "ok"
        print(
            f"  {row.scenario:<22} {row.db:<10} {fmt(row.rate, 0):>8}/s "
            f"p50 {fmt(row.p50_ms, 1)} ms p99 {fmt(row.p99_ms, 1)} ms "
            f"errors {row.errors} {row.result} [{status}] {' '.join(row.notes)}",
            flush=True,
        )
        return row

    def guarded(
        self, scenario: str, db: str, body: Callable[[], None], *, always: bool = False
    ) -> None:
        """Run one scenario; a crash is a row with an error, not the end of the run."""
        if not always and not self.wanted(scenario.split(" ")[0]):
            return
        workers = self.serving.worker_pids() if self.serving else set()
        try:
            body()
        except Exception as exc:
            traceback.print_exc()
            self.add(Row(scenario, db, errors=1, result=f"crashed: {type(exc).__name__}: {exc}"))
        replaced = workers - (self.serving.worker_pids() if self.serving else set())
        if replaced:  # uvicorn killed a worker that missed its health check, or one died
            self.add(
                Row(
                    "workers",
                    db,
                    errors=len(replaced),
                    result=f"{len(replaced)} worker process(es) replaced during {scenario}: "
                    "see the server log",
                )
            )

    # --- one database ------------------------------------------------------------------------

    def run_database(self, kind: str) -> None:
        print(f"\n== {kind}", flush=True)
        # The peer first, like the ceiling always measured: its rates are the ratios' base.
        self.guarded("peer", kind, lambda: self.measure_peer(kind), always=True)
        with fresh_database(kind, self.work_dir / "db") as url:
            var_dir = self.work_dir / f"var-{kind}"
            env = service_env(url, var_dir)
            prepare(env)
            var_dir.mkdir(parents=True, exist_ok=True)
            server = Server(env, workers=self.knobs.workers, log_path=var_dir / "serve.log")
            with server:
                first_start = server.wait_ready()
                self.serving = server
                self.guarded("cold-start", kind, lambda: self.cold_start(kind, env, first_start))
                ceiling = self.wrk_row(
                    "ceiling",
                    kind,
                    server,
                    "/healthz",
                    ">= 0.8 x the peer's no-op",
                    peer_scenario="noop",
                    min_peer_ratio=0.8,
                )
                self.ceiling = ceiling.rate or 0.0
                self.guarded(
                    "count",
                    kind,
                    lambda: self.wrk_row(
                        "count (0 signed)",
                        kind,
                        server,
                        f"/v1/petitions/{SLUG}/count",
                        ">= 10,000/s, p99 <= 20 ms",
                        min_rate=10_000,
                        max_p99=20,
                        peer_scenario="count",
                    ),
                )
                self.guarded(
                    "facts",
                    kind,
                    lambda: self.wrk_row(
                        "facts list",
                        kind,
                        server,
                        "/v1/facts",
                        ">= 5,000/s, p99 <= 30 ms",
                        min_rate=5_000,
                        max_p99=30,
                    ),
                )
                self.guarded(
                    "petition",
                    kind,
                    lambda: self.wrk_row(
                        "one petition",
                        kind,
                        server,
                        f"/v1/petitions/{SLUG}",
                        ">= 5,000/s, p99 <= 30 ms",
                        min_rate=5_000,
                        max_p99=30,
                    ),
                )
                self.guarded("sign", kind, lambda: self.sign(kind, server, url))
                self.guarded("confirm", kind, lambda: self.confirm(kind, server, url))
                self.guarded("mail", kind, lambda: self.mail_drain(kind, env, url))
                self.guarded("scale", kind, lambda: self.scale(kind, server, url))
                # Export before the streams: their memory stays with the process afterwards.
                self.guarded("export", kind, lambda: self.export(kind, server, url))
                self.guarded("sse", kind, lambda: self.sse(kind, server, url))
                self.serving = None
                self.check_server_log(kind, server)

    def check_server_log(self, kind: str, server: Server) -> None:
        """An unhandled error in the server log is an error of the run, whatever the clients
        were answered."""
        if server.log_path is None or not server.log_path.exists():
            return
        text_ = server.log_path.read_text(errors="replace")
        tracebacks = text_.count("Traceback (most recent call last)")
        if tracebacks:
            self.add(
                Row(
                    "server log",
                    kind,
                    errors=tracebacks,
                    result=f"{tracebacks} tracebacks, see {server.log_path}",
                )
            )

    # --- scenarios ---------------------------------------------------------------------------

    def wrk_row(
        self,
        name: str,
        kind: str,
        server: Server,
        path: str,
        target: str,
        *,
        min_rate: float | None = None,
        max_p99: float | None = None,
        peer_scenario: str | None = None,
        min_peer_ratio: float | None = None,
    ) -> Row:
        result = run_wrk(
            server.base_url + path,
            duration=self.knobs.seconds,
            connections=self.knobs.connections,
        )
        row = self._row_from(name, kind, result, target, min_rate, max_p99)
        return self.add(self.beside_peer(row, kind, peer_scenario, min_peer_ratio))

    def beside_peer(
        self, row: Row, kind: str, scenario: str | None, min_ratio: float | None = None
    ) -> Row:
        """Give the row its ratio to the peer's same scenario; where the target is a ratio,
        it is met only with the ratio (and not at all when the peer was not measured)."""
        peer_rate = self.peer_rates.get(kind, {}).get(scenario or "")
        if peer_rate and row.rate is not None:
            row.peer_ratio = row.rate / peer_rate
        if min_ratio is not None:
            ratio_met = row.peer_ratio is not None and row.peer_ratio >= min_ratio
            row.met = ratio_met and row.errors == 0 and row.met is not False
        return row

    def measure_peer(self, kind: str) -> None:
        if os.environ.get("BENCH_PEER", "on") == "off":
            return
        if not peer.available():
            self.add(Row("peer", kind, result=f"not measured: {peer.PEER_DIR} is absent"))
            return
        rates = self.peer_rates.setdefault(kind, {})
        log = self.work_dir / f"peer-{kind}.log"
        with peer.peer_server(kind, self.work_dir, self.knobs.workers, log) as server:
            self.peer_start[kind] = server.ready_seconds
            noop = run_wrk(
                server.base_url + "/anoop",
                duration=self.knobs.seconds,
                connections=self.knobs.connections,
            )
            self.add(self._peer_row("peer no-op", kind, noop, "GET /anoop (async, no work)"))
            rates["noop"] = noop.rate
            if self.wanted("sign"):
                signed = run_wrk(
                    server.base_url,
                    script="peer_sign.lua",
                    duration=self.knobs.sign_seconds,
                    connections=self.knobs.connections,
                    env={"PEER_SIGN_LUA": str(peer.PEER_SIGN_LUA)},
                )
                row = self._peer_row("peer sign", kind, signed, "POST /sign", ok_codes=(202,))
                self.add(row)
                rates["sign"] = signed.count(202) / signed.seconds if signed.seconds else 0.0
            if self.wanted("count"):
                counted = run_wrk(
                    server.base_url + "/count",
                    duration=self.knobs.seconds,
                    connections=self.knobs.connections,
                )
                self.add(self._peer_row("peer count", kind, counted, "GET /count (COUNT(*))"))
                rates["count"] = counted.rate

    def _peer_row(
        self, name: str, kind: str, result: WrkResult, what: str, ok_codes: tuple[int, ...] = ()
    ) -> Row:
        row = self._row_from(name, kind, result, "", None, None, ok_codes=ok_codes)
        row.ratio = None  # the peer has no ceiling of ours
        row.counts_as_failure = False  # the peer's errors are its own, shown, not ours
        row.result = f"{what}: {result.requests} requests"
        return row

    def _row_from(
        self,
        name: str,
        kind: str,
        result: WrkResult,
        target: str,
        min_rate: float | None,
        max_p99: float | None,
        ok_codes: tuple[int, ...] = (),
    ) -> Row:
        errors = result.socket_errors + result.status_errors
        if ok_codes:
            errors = result.socket_errors + (result.requests - result.count(*ok_codes))
        met = None
        if min_rate is not None:
            met = result.rate >= min_rate and (max_p99 is None or result.p99_ms <= max_p99)
            met = met and errors == 0
        ceiling = getattr(self, "ceiling", 0.0)
        row = Row(
            name,
            kind,
            rate=result.rate,
            p50_ms=result.p50_ms,
            p99_ms=result.p99_ms,
            errors=errors,
            target=target,
            met=met,
            ratio=result.rate / ceiling if ceiling else None,
            result=f"{result.requests} requests",
        )
        if result.socket_error_kinds:  # which kind says where to look
            kinds = ", ".join(f"{n} {kind}" for kind, n in result.socket_error_kinds.items())
            row.notes.append(f"wrk socket errors: {kinds}")
        return row

    def cold_start(self, kind: str, env: dict[str, str], first: float) -> None:
        times = [first]
        for _ in range(self.knobs.cold_starts - 1):  # more starts, on another port
            server = Server(env, workers=self.knobs.workers)
            with server:
                times.append(server.wait_ready())
        median, worst = statistics.median(times), max(times)
        peer_start = self.peer_start.get(kind)
        self.add(
            Row(
                "cold start",
                kind,
                result=f"median {median:.2f} s, max {worst:.2f} s (starts in order: "
                + ", ".join(f"{t:.2f}" for t in times)
                + f"; --workers {self.knobs.workers})"
                + (f"; the peer's start: {peer_start:.2f} s" if peer_start else ""),
                target="<= 1.5 s to first 200 on /readyz",
                met=worst <= 1.5,
            )
        )

    def sign(self, kind: str, server: Server, url: str) -> None:
        label = f"s{int(time.time())}"
        before = _scalar(url, "SELECT COUNT(*) FROM signature")
        result = run_wrk(
            server.base_url,
            script="sign.lua",
            script_args=[SLUG, label],
            duration=self.knobs.sign_seconds,
            connections=self.knobs.connections,
        )
        if kind == "sqlite":
            row = self._row_from(
                "sign",
                kind,
                result,
                ">= 3 x the peer and >= 2,000/s for 60 s, p99 <= 100 ms, 0 errors",
                2_000,
                100,
                ok_codes=(202,),
            )
            self.beside_peer(row, kind, "sign", min_ratio=3.0)
        else:
            row = self._row_from(
                "sign", kind, result, ">= 2 x the peer, 0 errors", None, None, ok_codes=(202,)
            )
            self.beside_peer(row, kind, "sign", min_ratio=2.0)
        acknowledged = result.count(202)
        # Requests still queued in the server when wrk stops are finished after it: wait.
        stored = _settled(url, f"SELECT COUNT(*) FROM signature WHERE email LIKE '{label}.%'")
        queued = _scalar(
            url, f"SELECT COUNT(*) FROM mail_message WHERE to_address LIKE '{label}.%'"
        )
        # wrk stops with requests in flight: the server may store a few it never saw answered.
        if stored < acknowledged:
            row.errors += acknowledged - stored
            row.notes.append(f"LOST {acknowledged - stored} acknowledged signatures")
        if stored - acknowledged > self.knobs.connections:
            row.errors += 1
            row.notes.append(f"{stored - acknowledged} stored but not acknowledged")
        if queued != stored:
            row.errors += 1
            row.notes.append(f"{queued} mails queued for {stored} signatures")
        if self.knobs.sign_seconds < 60 and row.met:
            row.notes.append(f"(ran {self.knobs.sign_seconds:g} s, not 60)")
        row.result = f"{acknowledged} acknowledged, {stored} stored, {queued} mails queued"
        del before
        self.add(row)

    def confirm(self, kind: str, server: Server, url: str) -> None:
        n = int(min(200_000, max(2_000, datagen.LINKS_PER_SECOND * self.knobs.seconds)))
        tokens = self.work_dir / f"tokens-{kind}.txt"
        datagen.add_pending(url, SECRET_KEY.encode(), n + 1, tokens)
        # Keep the last token for the event-stream scenario.
        lines = tokens.read_text().split()
        self.spare_token = lines[-1]
        tokens.write_text("\n".join(lines[:-1]) + "\n")
        confirmed_before = _confirmed_rows(url)
        result = run_wrk(
            server.base_url,
            script="confirm.lua",
            script_args=[str(tokens), "2"],
            duration=self.knobs.seconds,
            connections=self.knobs.connections,
        )
        row = self._row_from(
            "confirm", kind, result, ">= 1,500/s, p99 <= 100 ms", 1_500, 100, ok_codes=(200,)
        )
        settled = _settled(url, "SELECT COUNT(*) FROM signature WHERE status = 'confirmed'")
        confirmed = settled - confirmed_before
        shards = _scalar(url, "SELECT COALESCE(SUM(confirmed), 0) FROM count_shard")
        rows = _confirmed_rows(url)
        if shards != rows:
            row.errors += 1
            row.notes.append(f"COUNTER {shards} != {rows} confirmed rows")
        if result.count(299):
            # Not a rate of confirming: the answers after the last link were cheaper ones.
            row.met = False
            row.notes.append("(links ran out: some answers were already_confirmed; not met)")
        row.result = f"{confirmed} confirmed; counter = rows ({rows})"
        self.add(row)

    def mail_drain(self, kind: str, env: dict[str, str], url: str) -> None:
        pending = _scalar(url, "SELECT COUNT(*) FROM mail_message WHERE status = 'pending'")
        if pending < self.knobs.mail:
            datagen.add_outbox(url, self.knobs.mail - pending)
        pending = _scalar(url, "SELECT COUNT(*) FROM mail_message WHERE status = 'pending'")
        smtp_port, stats_port = free_port(), free_port()
        sink = Server(
            env,
            command=[
                sys.executable,
                "-m",
                "bench.sink",
                "--port",
                str(smtp_port),
                "--stats-port",
                str(stats_port),
            ],
        )
        worker_env = {**env, "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}?timeout=10"}
        worker = Server(
            worker_env,
            command=[ADVOCACY, "worker"],
            log_path=self.work_dir / f"var-{kind}" / "worker.log",
        )
        # Long enough to send the whole outbox at the target rate, with a quarter to spare:
        # the faster signing is, the more mail it leaves (a fixed window failed a drain at
        # 691/s, above the target, because 165,121 mails needed more than 180 s).
        cap = (
            max(60.0, 3 * self.knobs.sign_seconds, 1.25 * pending / MAIL_DRAIN_TARGET)
            if not self.knobs.smoke
            else 60.0
        )
        with sink:
            _wait_http(f"http://127.0.0.1:{stats_port}/stats")
            with worker:
                started = time.monotonic()
                left = pending
                while time.monotonic() - started < cap:
                    time.sleep(0.5)
                    left = _scalar(
                        url, "SELECT COUNT(*) FROM mail_message WHERE status = 'pending'"
                    )
                    if left == 0:
                        break
            stats = httpx.get(f"http://127.0.0.1:{stats_port}/stats").json()
        span = (stats["last"] or 0) - (stats["first"] or 0)
        rate = stats["total"] / span if span > 0 else None
        row = Row(
            "mail drain",
            kind,
            rate=rate,
            target=f">= {MAIL_DRAIN_TARGET} emails/s to a local SMTP sink",
            met=rate is not None and rate >= MAIL_DRAIN_TARGET and left == 0,
            result=f"{stats['total']} of {pending} sent in {span:.1f} s",
        )
        if stats["duplicates"]:
            row.errors += stats["duplicates"]
            row.notes.append(f"{stats['duplicates']} SENT TWICE")
        if left:
            row.notes.append(f"{left} still pending after {cap:.0f} s")
        if stats["total"] + left < pending:
            row.errors += 1
            row.notes.append("mails neither sent nor pending")
        self.add(row)

    def scale(self, kind: str, server: Server, url: str) -> None:
        started = time.perf_counter()
        datagen.add_confirmed(url, SECRET_KEY.encode(), self.knobs.scale)
        took = time.perf_counter() - started
        expected = _scalar(url, "SELECT COALESCE(SUM(confirmed), 0) FROM count_shard")
        time.sleep(1.2)  # the per-process count cache holds a value up to COUNT_CACHE_SECONDS
        seen = httpx.get(f"{server.base_url}/v1/petitions/{SLUG}/count").json()["verified"]
        name = f"count ({short(self.knobs.scale)} signed)"
        result = run_wrk(
            server.base_url + f"/v1/petitions/{SLUG}/count",
            duration=self.knobs.seconds,
            connections=self.knobs.connections,
        )
        row = self._row_from(name, kind, result, ">= 10,000/s, p99 <= 20 ms", 10_000, 20)
        row.result = f"count {seen} (generated {self.knobs.scale} rows in {took:.0f} s)"
        if seen != expected or seen != _confirmed_rows(url):
            row.errors += 1
            row.notes.append(f"COUNT {seen} != {expected}")
        self.add(row)

    def sse(self, kind: str, server: Server, url: str) -> None:
        n = self.knobs.streams
        memory: dict[str, int] = {}

        async def on_open() -> None:
            memory["open"] = server.rss_kib()

        async def change() -> int:
            async with httpx.AsyncClient(base_url=server.base_url) as client:
                before = (await client.get(f"/v1/petitions/{SLUG}/count")).json()["verified"]
                answer = await client.post(
                    "/v1/signatures/confirm", json={"token": self.spare_token}
                )
                answer.raise_for_status()
            return int(before) + 1

        async def expect() -> None:
            pass

        if not _has_path(server, "/v1/petitions/{slug}/events"):
            self.add(Row("live count (SSE)", kind, result="not measured: no /events endpoint"))
            return
        memory["before"] = server.rss_kib()
        outcome = asyncio.run(
            hold_streams(
                server.port,
                f"/v1/petitions/{SLUG}/events",
                n,
                on_open=on_open,
                change=change,
                expect=expect,
            )
        )
        per_stream = (memory["open"] - memory["before"]) / max(1, outcome.opened)
        row = Row(
            "live count (SSE)",
            kind,
            result=f"{outcome.opened} streams held, {outcome.reached} got the change, "
            f"p50 {outcome.p50_s:.2f} s, max {outcome.max_s:.2f} s; "
            f"{per_stream:.1f} KiB/stream (server RSS {memory['before'] // 1024} -> "
            f"{memory['open'] // 1024} MiB)",
            target=f"{n} streams, change reaches all within 2 s",
            met=outcome.opened == n and outcome.reached == n and outcome.max_s <= 2.0,
        )
        row.errors = outcome.failed + (outcome.opened - outcome.reached)
        self.add(row)

    def export(self, kind: str, server: Server, url: str) -> None:
        path = "/v1/admin/petitions/{slug}/signatures/export"
        if not _has_path(server, path):
            self.add(Row("export (CSV)", kind, result="not measured: no admin export endpoint"))
            return
        key = subprocess.run(
            [
                ADVOCACY,
                "create-api-key",
                "--name",
                "bench",
                "--scopes",
                "signatures:read,signatures:export",
            ],
            env=server.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        expected = _confirmed_rows(url)
        peak = {"kib": 0}
        stop = threading.Event()

        def watch() -> None:  # the largest resident size of any one server process
            while not stop.is_set():
                peak["kib"] = max(peak["kib"], server.largest_rss_kib())
                stop.wait(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        lines = size = 0
        started = time.perf_counter()
        with httpx.stream(
            "GET",
            server.base_url + path.format(slug=SLUG),
            params={"format": "csv"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=120,
        ) as answer:
            status = answer.status_code
            for chunk in answer.iter_bytes():
                size += len(chunk)
                lines += chunk.count(b"\n")
        took = time.perf_counter() - started
        stop.set()
        watcher.join()
        rows = lines - 1  # the header
        row = Row(
            "export (CSV)",
            kind,
            result=f"{rows:,} rows ({rows / took:,.0f}/s), {size / 1e6:.0f} MB in {took:.1f} s; "
            f"peak server process RSS {peak['kib'] / 1024:.0f} MiB",
            target=f"{short(self.knobs.scale)} rows <= 30 s, peak RSS <= 200 MB",
            met=status == 200 and rows == expected and took <= 30 and peak["kib"] * 1024 <= 200e6,
        )
        if status != 200 or rows != expected:
            row.errors += 1
            row.notes.append(f"status {status}, {rows} rows of {expected}")
        self.add(row)

    # --- several instances -------------------------------------------------------------------

    def multi_instance(self) -> None:
        from bench.multi import run_multi_instance

        print("\n== multi-instance (postgresql)", flush=True)
        for row in run_multi_instance(self.knobs, self.work_dir):
            self.add(row)


# --- helpers ---------------------------------------------------------------------------------


def _scalar(url: str, sql: str) -> int:
    with _engine(url).connect() as connection:
        return int(connection.execute(text(sql)).scalar() or 0)


_ENGINES: dict[str, Any] = {}


def _engine(url: str) -> Any:
    if url not in _ENGINES:
        _ENGINES[url] = create_engine(url, pool_size=1)
    return _ENGINES[url]


def _settled(url: str, sql: str, quiet: float = 1.0, timeout: float = 60.0) -> int:
    """The value of `sql` once it has stopped changing for `quiet` seconds."""
    value, since, deadline = _scalar(url, sql), time.monotonic(), time.monotonic() + timeout
    while time.monotonic() - since < quiet and time.monotonic() < deadline:
        time.sleep(0.2)
        now = _scalar(url, sql)
        if now != value:
            value, since = now, time.monotonic()
    return value


def _confirmed_rows(url: str) -> int:
    return _scalar(url, "SELECT COUNT(*) FROM signature WHERE status = 'confirmed'")


def _wait_http(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise TimeoutError(url)


def _paths(server: Server) -> list[str]:
    return list(httpx.get(server.base_url + "/openapi.json").json()["paths"])


def _has_path(server: Server, path: str) -> bool:
    return path in _paths(server)


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kib = 0
    with contextlib.suppress(OSError, IndexError, ValueError):
        memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{os.cpu_count()} CPU ({cpu}), {memory_kib / 1024 / 1024:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="short run for CI")
    parser.add_argument(
        "--databases",
        default=os.environ.get("BENCH_DATABASES"),
        help="comma list (default sqlite,postgresql; --smoke: sqlite, PostgreSQL being "
        "exercised by the multi-instance scenario)",
    )
    parser.add_argument(
        "--only",
        default=os.environ.get("BENCH_SCENARIOS"),
        help="comma list of: cold-start,count,facts,petition,sign,confirm,mail,scale,sse,"
        "export,multi",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "var" / "bench")
    args = parser.parse_args()
    knobs = Knobs.from_env(args.smoke)
    if args.databases is None:
        args.databases = "sqlite" if args.smoke else "sqlite,postgresql"
    only = set(args.only.split(",")) if args.only else None
    args.output.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC)
    load_at_start = os.getloadavg()[0]
    print(f"machine: {machine()}")
    print(f"knobs: {knobs}")
    stamp = f"{started:%Y%m%dT%H%M%S}"
    # Databases are dropped at the end; logs, tokens and results stay under --output.
    work_dir = args.output / f"run-{stamp}"
    work_dir.mkdir(parents=True, exist_ok=True)
    print(f"logs: {work_dir}")
    bench = Bench(knobs, only, work_dir)
    for kind in args.databases.split(","):
        kind = kind.strip()
        if kind == "postgresql" and postgres_admin_url() is None:
            bench.add(Row("all", kind, result="not measured: PostgreSQL not reachable"))
            continue
        if kind:
            bench.run_database(kind)
    if bench.wanted("multi"):
        if postgres_admin_url() is None:
            bench.add(Row("multi-instance", "postgresql", result="not run: no PostgreSQL"))
        else:
            bench.guarded("multi", "postgresql", bench.multi_instance)
    rows = bench.rows
    rendered = table(rows)
    command = " ".join(["python -m bench.run", *sys.argv[1:]])
    load = "load average at start {:.1f}, at end {:.1f} (other work on the box lowers every rate)"
    load = load.format(load_at_start, os.getloadavg()[0])
    print(f"\n{started:%Y-%m-%d %H:%M} UTC · {machine()}\n{command}\n{load}\n")
    print(rendered)
    report = {
        "date": started.isoformat(),
        "machine": machine(),
        "command": command,
        "load": load,
        "knobs": asdict(knobs),
        "rows": [asdict(row) for row in rows],
    }
    (args.output / f"results-{stamp}.json").write_text(json.dumps(report, indent=2))
    (args.output / "latest.md").write_text(rendered + "\n")
    failed = [row for row in rows if row.failed]
    if failed:
        print(
            f"\n{len(failed)} scenario(s) had errors: "
            + ", ".join(f"{row.scenario} ({row.db})" for row in failed)
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
