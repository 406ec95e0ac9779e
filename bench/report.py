"""What a benchmark run measured: its knobs, one row per scenario, and the printed table."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass
class Knobs:
    sign_seconds: float
    seconds: float
    connections: int
    workers: int
    scale: int
    streams: int
    mail: int
    multi_signers: int
    cold_starts: int
    smoke: bool

    @classmethod
    def from_env(cls, smoke: bool) -> Knobs:
        def number(name: str, full: float, small: float) -> float:
            return float(os.environ.get(name, small if smoke else full))

        return cls(
            sign_seconds=number("BENCH_DURATION", 60, 2),
            seconds=number("BENCH_SHORT_DURATION", 15, 1),
            connections=int(number("BENCH_CONNECTIONS", 64, 16)),
            workers=int(number("BENCH_WORKERS", 2, 1)),
            scale=int(number("BENCH_SCALE", 1_000_000, 2_000)),
            streams=int(number("BENCH_STREAMS", 5_000, 50)),
            mail=int(number("BENCH_MAIL", 10_000, 200)),
            multi_signers=int(number("BENCH_MULTI_SIGNERS", 2_000, 100)),
            cold_starts=int(number("BENCH_COLD_STARTS", 3, 1)),
            smoke=smoke,
        )


@dataclass
class Row:
    scenario: str
    db: str
    rate: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    result: str = ""
    target: str = ""
    met: bool | None = None
    ratio: float | None = None  # to the same server's /healthz
    peer_ratio: float | None = None  # to the naive peer's same scenario, same run
    notes: list[str] = field(default_factory=list)
    counts_as_failure: bool = True

    @property
    def failed(self) -> bool:
        return self.errors > 0 and self.counts_as_failure


def fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def short(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n:,}"


def times(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"


def table(rows: list[Row]) -> str:
    header = (
        "| scenario | db | requests/s | p50 ms | p99 ms | errors | vs peer | vs ceiling "
        "| result | target | met |"
    )
    lines = [header, "|" + "---|" * 11]
    for row in rows:
        met = {True: "yes", False: "**no**", None: ""}[row.met]
        result = "; ".join([row.result, *row.notes]) if row.notes else row.result
        lines.append(
            f"| {row.scenario} | {row.db} | {fmt(row.rate, 0)} | {fmt(row.p50_ms, 1)} "
            f"| {fmt(row.p99_ms, 1)} | {row.errors} | {times(row.peer_ratio)} "
            f"| {'-' if row.ratio is None else f'{row.ratio:.2f}'} | {result} "
            f"| {row.target} | {met} |"
        )
    return "\n".join(lines)
