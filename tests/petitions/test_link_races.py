"""A link followed while another transaction holds the same signature (another instance of
the API confirming or withdrawing it at the same moment): the second waits, then sees what
the first did. On PostgreSQL the two really overlap; on SQLite the second's write
transaction waits for the first to end, which is the same rule kept by the database."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

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


def test_two_confirmations_at_once_count_once(
    client, smtp_server, mail_worker, clean_database: Database
):
    confirm, _ = _signed(client, smtp_server, mail_worker, "both.clicked@example.org")
    first, second = _while_held(
        clean_database,
        lambda session: confirm_many(session, [confirm])[0],
        lambda session: confirm_many(session, [confirm])[0],
    )
    assert first.status == "confirmed"
    assert not isinstance(second, BaseException), second
    assert second.status == "already_confirmed"
    assert count(client) == 1


def test_a_withdrawal_while_the_signature_is_being_confirmed_withdraws_it(
    client, smtp_server, mail_worker, clean_database: Database
):
    confirm, withdrawal = _signed(client, smtp_server, mail_worker, "changed.mind@example.org")
    first, second = _while_held(
        clean_database,
        lambda session: confirm_many(session, [confirm])[0],
        lambda session: withdraw(session, withdrawal),
    )
    assert first.status == "confirmed"
    assert not isinstance(second, BaseException), second
    assert second.status == "withdrawn"
    assert count(client) == 0
    with clean_database.session() as session:
        [row] = session.exec(select(Signature)).all()
        assert row.status == "withdrawn" and row.email is None and row.first_name is None
