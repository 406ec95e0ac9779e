"""What every staff edit of the fact base shares (api.incident.sources, .facts and
.discrepancies, called by the admin API).

Every quote is checked when it is saved: its source must exist, and when the source's text is
stored the quote must stand verbatim at its offsets (the rules are api.incident.support's). A
refused edit is a 422 naming the body field at fault. Fact statuses are then recomputed for the
facts the edit touched (api.incident.statuses).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from api.errors import FieldError, UnprocessableContent, field_error
from api.incident.models import Source
from api.incident.support import evidence_problem, quote_problem


@dataclass(frozen=True)
class QuoteIn:
    field: str  # where it sits in the request body, e.g. "citations.0"; "" at the top level
    source_id: str
    quote: str
    start: int
    end: int


def body_error(path: str, message: str, code: str) -> FieldError:
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in path.split(".")]
    return field_error(["body", *parts], message, code)


def refuse(errors: Sequence[FieldError]) -> UnprocessableContent:
    summary = "; ".join(f"{e.field}: {e.message}" for e in errors[:3])
    return UnprocessableContent(f"The request is not valid. {summary}", errors=errors)


def check_quotes(session: Session, quotes: Sequence[QuoteIn]) -> None:
    ids = {q.source_id for q in quotes}
    sources = {s.id: s for s in session.exec(select(Source).where(col(Source.id).in_(ids)))}
    errors: list[FieldError] = []
    for q in quotes:
        prefix = f"{q.field}." if q.field else ""
        not_evidence = evidence_problem(q.quote)
        if not_evidence is not None:
            errors.append(
                body_error(prefix + "quote", f"The quote {not_evidence}.", "not_a_clause")
            )
        source = sources.get(q.source_id)
        if source is None:
            errors.append(
                body_error(
                    prefix + "source_id", f"No source with id '{q.source_id}'.", "unknown_source"
                )
            )
        elif source.text is not None:
            problem = quote_problem(source.text, q.quote, q.start, q.end)
            if problem is not None:
                errors.append(
                    body_error(
                        prefix + "quote",
                        f"The quote {problem} of source '{q.source_id}'.",
                        "quote_not_verbatim",
                    )
                )
        elif q.end - q.start != len(q.quote):
            errors.append(
                body_error(
                    prefix + "end",
                    f"end - start must equal the quote's length ({len(q.quote)}); "
                    f"got [{q.start}:{q.end}].",
                    "offsets_mismatch",
                )
            )
    if errors:
        raise refuse(errors)


def next_position(session: Session, model: Any) -> int:
    """Where a new row goes by default: after the others."""
    highest = session.exec(select(func.max(model.position))).one()
    return 0 if highest is None else int(highest) + 1
