"""`advocacy verify-citations` and the truth rule: every quote stands verbatim in its source."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from api.cli import app as cli
from api.db import Database
from api.incident.models import Citation
from tests.conftest import SEEDS_DIR


@pytest.fixture(autouse=True)
def _seeds_present():
    # The texts are not in the repository; they stand beside it. Missing is a failure, not a
    # skip: without them nothing here is checked.
    assert SEEDS_DIR.is_dir(), f"the source texts must be at {SEEDS_DIR}"


def run_verify(database_url: str, directory: Path):
    return CliRunner().invoke(
        cli, ["verify-citations", str(directory)], env={"DATABASE_URL": database_url}
    )


@pytest.fixture(autouse=True)
def _fresh_settings_cache():
    from api.config import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_every_seeded_quote_is_verbatim(clean_database: Database, database_url: str) -> None:
    result = run_verify(database_url, SEEDS_DIR)
    assert result.exit_code == 0, result.output
    assert "0 problems" in result.output
    assert result.output.count("source ") >= 3


def test_a_wrong_offset_is_reported(clean_database: Database, database_url: str) -> None:
    with clean_database.session(write=True) as session:
        citation = session.exec(Citation.__table__.select().limit(1)).first()
        session.execute(
            update(Citation)
            .where(Citation.fact_id == citation.fact_id, Citation.position == citation.position)
            .values(start=citation.start + 1, end=citation.end + 1)
        )
    result = run_verify(database_url, SEEDS_DIR)
    assert result.exit_code == 1
    assert f"fact '{citation.fact_id}'" in result.output
    assert "the quote stands at" in result.output


def test_a_missing_source_file_is_reported(
    clean_database: Database, database_url: str, tmp_path: Path
) -> None:
    files = sorted(SEEDS_DIR.iterdir())
    for path in files[1:]:
        shutil.copy(path, tmp_path / path.name)
    result = run_verify(database_url, tmp_path)
    assert result.exit_code == 1
    assert "no file in" in result.output


def test_the_support_check_runs_with_verify_citations(
    clean_database: Database, database_url: str
) -> None:
    from api.incident.models import Discrepancy, Fact

    with clean_database.session(write=True) as session:
        # Verbatim, but a bare date: the quote proves nothing.
        text = (SEEDS_DIR / "000_7774e54be13675b6.txt").read_text(encoding="utf-8")
        start = text.index("February 25, 2020")
        session.execute(
            update(Citation)
            .where(Citation.fact_id == "kaia-age-six", Citation.position == 0)
            .values(quote="February 25, 2020", start=start, end=start + len("February 25, 2020"))
        )
        # A disputed fact with only a wording variant behind it.
        session.execute(
            update(Discrepancy).where(Discrepancy.id == "let-me-go-wording").values(kind="wording")
        )
        session.execute(update(Fact).where(Fact.id == "kaia-let-me-go").values(status="disputed"))
    result = run_verify(database_url, SEEDS_DIR)
    assert result.exit_code == 1
    assert "fact 'kaia-age-six' citation 0: 'February 25, 2020' is not a sentence" in result.output
    assert "fact 'kaia-let-me-go': disputed, but no substantive discrepancy" in result.output
    assert "the quote is not verbatim" not in result.output  # the offsets are right
