"""Where a signature's (or a confirmation's) time goes under load: CPU by thread, and group
commit's phases.

    .venv/bin/python -m bench.profile                 # SQLite, 15 s of wrk signing
    BENCH_PROFILE_SECONDS=30 .venv/bin/python -m bench.profile postgresql
    .venv/bin/python -m bench.profile sqlite confirm  # confirming instead

Starts the service as `make bench` does (`advocacy serve --workers 2`, production settings),
drives `wrk -t2 -c64 -s sign.lua` at it (`confirm`: `confirm.lua`, with 12,000 pending
signatures' links per second of the run, more than it can confirm), and prints:

- each server thread's CPU (user and kernel) over the run, from /proc, per request: the
  event loops (the request's own work) and the group-commit writers (the database write);
- from `/metrics`, the batches and group commit's phases per batch and per unit: `turn`
  (waiting for the write lock, which on SQLite the writers of both workers share, and BEGIN),
  `work` and `commit`. On SQLite the writers take turns, so the rate cannot pass one
  request per (work + commit) time per unit: the figure that bounds signing.
- how busy the machine's cores were (wrk included).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench import datagen
from bench.datagen import DEFAULT_SLUG
from bench.load import run_wrk
from bench.servers import SECRET_KEY, Server, fresh_database, prepare, process_tree, service_env
from tests.ops.servers import sample

METRICS_TOKEN = "bench-profile-metrics-token"
TICKS = os.sysconf("SC_CLK_TCK")


def thread_cpu(pids: list[int]) -> dict[tuple[int, int], tuple[float, float]]:
    """(pid, thread id) -> (user, kernel) seconds so far."""
    seen: dict[tuple[int, int], tuple[float, float]] = {}
    for pid in pids:
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in threads:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as stat:
                    fields = stat.read().rpartition(")")[2].split()
            except OSError:
                continue
            seen[(pid, int(tid))] = (int(fields[11]) / TICKS, int(fields[12]) / TICKS)
    return seen


def busy_share() -> tuple[int, int]:
    with open("/proc/stat") as stat:
        ticks = [int(x) for x in stat.readline().split()[1:]]
    return sum(ticks), ticks[3] + ticks[4]


def scrape(base_url: str) -> str:
    return httpx.get(
        base_url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    ).text


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    scenario = sys.argv[2] if len(sys.argv) > 2 else "sign"
    if scenario not in ("sign", "confirm"):
        raise SystemExit(f"unknown scenario {scenario!r}: sign or confirm")
    seconds = float(os.environ.get("BENCH_PROFILE_SECONDS", "15"))
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        with fresh_database(kind, work) as url:
            env = service_env(url, work / "var", METRICS_TOKEN=METRICS_TOKEN)
            prepare(env)
            if scenario == "confirm":
                tokens = work / "tokens.txt"
                links = int(datagen.LINKS_PER_SECOND * seconds)
                datagen.add_pending(url, SECRET_KEY.encode(), links, tokens)
                script, script_args = "confirm.lua", [str(tokens), "2"]
            else:
                script, script_args = "sign.lua", [DEFAULT_SLUG, "profile"]
            with Server(env, workers=2, log_path=work / "server.log") as server:
                server.wait_ready()
                assert server.process is not None
                time.sleep(1.0)
                supervisor = server.process.pid
                workers = [pid for pid in process_tree(supervisor) if pid != supervisor]
                before, machine_before = thread_cpu(workers), busy_share()
                metrics_before = scrape(server.base_url)
                result = run_wrk(
                    server.base_url,
                    script=script,
                    script_args=script_args,
                    duration=seconds,
                )
                after, machine_after = thread_cpu(workers), busy_share()
                metrics = scrape(server.base_url)
    if result.count(299):
        print("(the links ran out: some answers were already_confirmed)")
    report(
        kind,
        scenario,
        result.requests,
        result.seconds,
        before,
        after,
        machine_before,
        machine_after,
    )
    report_phases(metrics_before, metrics)


def report(
    kind: str,
    scenario: str,
    requests: int,
    seconds: float,
    before: dict[tuple[int, int], tuple[float, float]],
    after: dict[tuple[int, int], tuple[float, float]],
    machine_before: tuple[int, int],
    machine_after: tuple[int, int],
) -> None:
    total = machine_after[0] - machine_before[0]
    idle = machine_after[1] - machine_before[1]
    print(
        f"{kind} {scenario}: {requests} requests in {seconds:.1f} s = {requests / seconds:,.0f}/s; "
        f"cores busy {100 * (1 - idle / total):.0f}% (wrk included)"
    )
    print("thread                    CPU s   of it kernel   us per request (kernel)")
    for (pid, tid), (user, kernel) in sorted(after.items()):
        user -= before.get((pid, tid), (0.0, 0.0))[0]
        kernel -= before.get((pid, tid), (0.0, 0.0))[1]
        if user + kernel < 0.05:
            continue
        role = "event loop" if pid == tid else "writer/other"
        print(
            f"{pid:>7}/{tid:<7} {role:<12} {user + kernel:6.2f} {kernel:10.2f}   "
            f"{(user + kernel) / requests * 1e6:10.0f} ({kernel / requests * 1e6:.0f})"
        )


def report_phases(before: str, after: str) -> None:
    def grown(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    batches = grown("advocacy_group_commit_batch_size_count")
    if not batches:
        print("no group-commit metrics")
        return
    units = grown("advocacy_group_commit_batch_size_sum")
    print(f"group commit: {batches:.0f} batches, {units / batches:.1f} units per batch")
    for phase in ("turn", "work", "commit"):
        spent = grown("advocacy_group_commit_seconds_sum", phase=phase)
        print(
            f"  {phase:<7} {spent / batches * 1e3:7.2f} ms per batch, "
            f"{spent / units * 1e6:6.0f} us per unit"
        )


if __name__ == "__main__":
    main()
