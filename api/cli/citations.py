"""`advocacy verify-citations`: every stored quote against the source files on disk, then the
support check (api.incident.support) over the whole fact base."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, select

from api.incident.models import Citation, DiscrepancyVersion, Source
from api.incident.support import check_fact_base, quote_problem


@dataclass
class VerificationReport:
    checked_quotes: int = 0
    matched_files: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_citations(session: Session, directory: Path) -> VerificationReport:
    """Check every stored quote against the source files in `directory`, then run the support
    check (api.incident.support) over the whole fact base.

    Files are matched to sources by SHA-256 of their bytes, so file names do not matter.
    """
    report = VerificationReport()
    texts: dict[str, str] = {}
    by_hash = {s.content_sha256: s for s in session.exec(select(Source))}
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        raw = path.read_bytes()
        source = by_hash.get(hashlib.sha256(raw).hexdigest())
        if source is None:
            continue
        texts[source.id] = raw.decode("utf-8")
        report.matched_files[source.id] = path.name
    for source in by_hash.values():
        if source.id not in texts:
            report.problems.append(
                f"source '{source.id}': no file in {directory} has SHA-256 {source.content_sha256}"
            )
    quotes: list[tuple[str, str, str, int, int]] = [
        (f"fact '{c.fact_id}' citation {c.position}", c.source_id, c.quote, c.start, c.end)
        for c in session.exec(select(Citation))
    ] + [
        (
            f"discrepancy '{v.discrepancy_id}' version {v.position}",
            v.source_id,
            v.quote,
            v.start,
            v.end,
        )
        for v in session.exec(select(DiscrepancyVersion))
    ]
    for where, source_id, quote, start, end in quotes:
        text = texts.get(source_id)
        if text is None:
            continue  # already reported as a source with no file
        report.checked_quotes += 1
        problem = quote_problem(text, quote, start, end)
        if problem is not None:
            report.problems.append(f"{where} ({source_id}): the quote {problem}")
    # Beyond verbatim: the support check (clauses, real disagreements, statuses, references).
    report.problems.extend(check_fact_base(session, texts))
    return report
