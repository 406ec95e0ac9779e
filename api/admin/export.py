"""Streamed exports of confirmed signatures, for delivery to a petition's target.

Rows come from a server-side cursor in batches (`yield_per`), and each batch is written out and
forgotten before the next is read, so memory stays flat whatever the number of signatures.
The export runs in its own database session: the request's session ends before the body is
sent.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

from api.admin.signature_schemas import ExportFormat
from api.db import Database
from api.petitions.stats import confirmed_signatures_query
from api.text import FORMULA_PREFIXES

BATCH_SIZE = 1000
COLUMNS = ["name", "county", "state", "postal_code", "country", "signed_at"]
MEDIA_TYPES = {
    ExportFormat.csv: "text/csv; charset=utf-8",
    ExportFormat.ndjson: "application/x-ndjson",
}


def protect(value: str) -> str:
    """Defuse spreadsheet formula injection (OWASP "CSV injection"): a leading quote makes the
    cell text, shown as written."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def columns(with_email: bool) -> list[str]:
    return [*COLUMNS, "email"] if with_email else list(COLUMNS)


def _record(row: Sequence[Any], with_email: bool) -> dict[str, str | None]:
    first, last, county, state, postal_code, country, confirmed_at, email = row
    record: dict[str, str | None] = {
        "name": " ".join(part for part in (first, last) if part) or None,
        "county": county,
        "state": state,
        "postal_code": postal_code,
        "country": country,
        "signed_at": confirmed_at.isoformat() if confirmed_at is not None else None,
    }
    if with_email:
        record["email"] = email
    return record


def _csv_chunk(records: list[dict[str, str | None]], header: list[str] | None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header is not None:
        writer.writerow(header)
    for record in records:
        writer.writerow([protect(v) if v is not None else "" for v in record.values()])
    return buffer.getvalue().encode("utf-8")


def _ndjson_chunk(records: list[dict[str, str | None]]) -> bytes:
    # JSON carries values as data, not formulas: they are exported as they are.
    lines = (json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records)
    return "".join(line + "\n" for line in lines).encode("utf-8")


def export_chunks(
    database: Database,
    petition_id: int,
    export_format: ExportFormat,
    *,
    with_email: bool,
    batch_size: int = BATCH_SIZE,
) -> Iterator[bytes]:
    """The export body, one chunk per batch of rows (the CSV header comes first)."""
    if export_format is ExportFormat.csv:
        yield _csv_chunk([], columns(with_email))
    with database.session() as session:
        result = session.exec(
            confirmed_signatures_query(petition_id).execution_options(yield_per=batch_size)
        )
        for batch in result.partitions():
            records = [_record(row, with_email) for row in batch]
            if export_format is ExportFormat.csv:
                yield _csv_chunk(records, None)
            else:
                yield _ndjson_chunk(records)
