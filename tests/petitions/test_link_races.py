"""A link followed while another transaction holds the same signature (another instance of
the API confirming or withdrawing it at the same moment): the second waits, then sees what
the first did. On PostgreSQL the two really overlap; on SQLite the second's write
transaction waits for the first to end, which is the same rule kept by the database."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, select

from api.db import Database
from api.petitions.confirmation import confirm_many, withdraw
from api.petitions.models import Signature
from tests.conftest import link_in
from tests.petitions.helpers import SIGN_URL, count, signer


def _signed(client, smtp_server, mail_worker, email: str) -> tuple[str, str]:
    """(confirm token, withdraw token) of a new pending signature."""
    assert client.post(SIGN_URL, json=signer(email=email)).status_code == 202
    mail_worker.drain()
    [message] = smtp_server.to(email)
    return link_in(message, "/confirm"), link_in(message, "/withdraw")


def _while_held(
    database: Database, first: Callable[[Session], Any], second: Callable[[Session], Any]
) -> tuple[Any, Any]:
    """Run `first` in a write transaction, then `second` in another one (another thread, as
    another instance would) while the first is still open; commit the first a moment later.
    Both outcomes."""
    outcome: dict[str, Any] = {}

    def run_second() -> None:
        try:
            with database.session(write=True) as session:
                outcome["second"] = second(session)
        except Exception as exc:  # reported by the assertion below
            outcome["second"] = exc

    with database.session(write=True) as session:
        outcome["first"] = first(session)
        racer = threading.Thread(target=run_second)
        racer.start()
        time.sleep(0.5)  # long enough for the second to reach the row the first holds
        assert "second" not in outcome, "the second did not wait for the first"
    racer.join(30)
    assert not racer.is_alive()
    return outcome["first"], outcome["second"]


@pytest.mark.parametrize(
    ("second", "answer", "counted"),
    [
        ("confirm", "already_confirmed", 1),  # clicked twice: counted once
        ("withdraw", "withdrawn", 0),  # changed their mind: withdrawn, erased, uncounted
    ],
)
def test_a_link_followed_while_its_signature_is_being_confirmed(
    second: str, answer: str, counted: int, client, smtp_server, mail_worker, clean_database
):
    confirm, withdrawal = _signed(client, smtp_server, mail_worker, "quick@example.org")
    follow = {
        "confirm": lambda session: confirm_many(session, [confirm])[0],
        "withdraw": lambda session: withdraw(session, withdrawal),
    }[second]
    first, outcome = _while_held(
        clean_database, lambda session: confirm_many(session, [confirm])[0], follow
    )
    assert first.status == "confirmed"
    assert not isinstance(outcome, BaseException), outcome
    assert outcome.status == answer
    assert count(client) == counted
    with clean_database.session() as session:
        [row] = session.exec(select(Signature)).all()
        assert row.status == ("withdrawn" if second == "withdraw" else "confirmed")
        assert (row.email is None) == (second == "withdraw")
