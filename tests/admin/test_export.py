"""Exports of confirmed signatures: CSV and NDJSON, streamed, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

from api.admin.export import export_chunks, protect
from api.admin.signature_schemas import ExportFormat
from api.db import Database
from tests.admin.helpers import auth, insert_signatures, make_key, petition_id
from tests.petitions.helpers import SLUG
from tests.test_errors import assert_problem

URL = f"/v1/admin/petitions/{SLUG}/signatures/export"


def rows_of(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.text)))


def test_csv_carries_confirmed_signatures_only(client, admin, clean_database: Database) -> None:
    insert_signatures(
        clean_database, 2, first_name="Ana", last_name="García", email="ana@example.org"
    )
    insert_signatures(clean_database, 1, status="pending", email="pending@example.org")
    insert_signatures(clean_database, 1, status="struck", email="struck@example.org")
    response = client.get(URL, headers=admin)
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.headers["cache-control"] == "no-store"
    assert "etag" not in response.headers  # streamed, not buffered
    rows = rows_of(response)
    assert len(rows) == 2
    assert list(rows[0]) == [
        "name",
        "county",
        "state",
        "postal_code",
        "country",
        "signed_at",
        "email",
    ]
    assert rows[0]["name"] == "Ana García"
    assert rows[0]["county"] == "Orange County"
    assert rows[0]["state"] == "FL"
    assert rows[0]["postal_code"] == "32801"
    assert rows[0]["email"] == "ana@example.org"
    assert rows[0]["signed_at"] <= rows[1]["signed_at"]  # oldest confirmation first
    assert "pending@" not in response.text and "struck@" not in response.text
    assert_problem(client.get("/v1/admin/petitions/no-such/signatures/export", headers=admin), 404)


def test_csv_values_cannot_run_as_formulas(client, admin, clean_database: Database) -> None:
    insert_signatures(
        clean_database,
        1,
        first_name='=HYPERLINK("http://evil.example")',
        last_name="x",
        county="+1+1",
        postal_code="-2",
        email="@SUM(A1)@example.org",
    )
    insert_signatures(clean_database, 1, first_name="\tTab", last_name="x", county="\rCR")
    rows = rows_of(client.get(URL, headers=admin))
    assert rows[0]["name"] == '\'=HYPERLINK("http://evil.example") x'
    assert rows[0]["county"] == "'+1+1"
    assert rows[0]["postal_code"] == "'-2"
    assert rows[0]["email"] == "'@SUM(A1)@example.org"
    assert rows[1]["name"] == "'\tTab x"
    assert rows[1]["county"] == "'\rCR"
    for value in ("=1", "+1", "-1", "@1", "\t1", "\r1"):
        assert protect(value) == "'" + value
    for value in ("Ana", "32801", "O'Brien", "a=b"):
        assert protect(value) == value


def test_ndjson(client, admin, clean_database: Database) -> None:
    insert_signatures(clean_database, 3, first_name="=Ana")
    response = client.get(URL, params={"format": "ndjson"}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = response.text.splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    assert records[0]["name"] == "=Ana Number0"  # JSON carries data, not formulas
    assert set(records[0]) == {
        "name",
        "county",
        "state",
        "postal_code",
        "country",
        "signed_at",
        "email",
    }


def test_email_only_with_the_export_scope(client, clean_database: Database) -> None:
    insert_signatures(clean_database, 1, email="ana@example.org")
    reader = auth(make_key(clean_database, "signatures:read"))
    exporter = auth(make_key(clean_database, "signatures:read", "signatures:export"))
    only_export = auth(make_key(clean_database, "signatures:export"))

    without = client.get(URL, headers=reader)
    assert "email" not in rows_of(without)[0]
    assert "ana@example.org" not in without.text
    ndjson = client.get(URL, params={"format": "ndjson"}, headers=reader).text
    assert "email" not in json.loads(ndjson)
    assert rows_of(client.get(URL, headers=exporter))[0]["email"] == "ana@example.org"
    left_out = client.get(URL, params={"include_email": "false"}, headers=exporter)
    assert "email" not in rows_of(left_out)[0]
    # signatures:export adds emails to an export; exporting itself needs signatures:read.
    assert_problem(client.get(URL, headers=only_export), 403)


def test_a_large_export_streams_in_batches_with_flat_memory(
    client, admin, clean_database: Database
) -> None:
    insert_signatures(clean_database, 200)
    pid = petition_id(clean_database)

    def peak_memory() -> tuple[int, int]:
        tracemalloc.start()
        chunks = sum(
            1
            for _ in export_chunks(
                clean_database, pid, ExportFormat.csv, with_email=True, batch_size=100
            )
        )
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak, chunks

    peak_memory()  # warm caches (compiled SQL, codecs) so they are not counted
    small, small_chunks = peak_memory()
    insert_signatures(clean_database, 1800)
    large, large_chunks = peak_memory()
    assert (small_chunks, large_chunks) == (1 + 2, 1 + 20)  # the header, then one per batch
    # Ten times the rows, about the same memory: nothing grows with the export's size.
    assert large < small * 1.5, (small, large)

    with client.stream("GET", URL, headers=admin) as response:
        assert response.status_code == 200
        chunks = list(response.iter_raw())
    assert len(chunks) > 1  # sent as it is read, not built whole first
    text = b"".join(chunks).decode()
    assert len(text.splitlines()) == 1 + 2000


def test_every_export_is_in_the_audit_log(client, admin) -> None:
    client.get(URL, params={"format": "ndjson", "include_email": "false"}, headers=admin)
    [entry] = client.get(
        "/v1/admin/audit", params={"action": "signatures.export"}, headers=admin
    ).json()["items"]
    assert entry["target_id"] == SLUG
    assert entry["after"] == {"format": "ndjson", "with_email": False}
