"""Verified counts: confirmed signatures of a petition, kept in COUNT_SHARDS counter rows so no
single row is updated by every confirmation."""

from __future__ import annotations

import functools
import importlib
import random
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from api.db import table_of
from api.petitions.models import COUNT_SHARDS, CountShard


def verified_counts(session: Session, petition_ids: Sequence[int]) -> dict[int, int]:
    """Sum of each petition's COUNT_SHARDS counter rows: O(1) in the number of signatures."""
    statement = (
        select(CountShard.petition_id, func.sum(CountShard.confirmed))
        .where(col(CountShard.petition_id).in_(list(petition_ids)))
        .group_by(col(CountShard.petition_id))
    )
    return {petition_id: int(total or 0) for petition_id, total in session.exec(statement)}


def add_to_count(session: Session, petition_id: int, delta: int) -> None:
    # A random shard: concurrent confirmations rarely touch the same row. One shard per
    # transaction: a group-committed transaction confirms for many requests, and two that each
    # locked several shards in random order deadlocked on PostgreSQL (seen in the benchmark).
    shard = session.info.setdefault(
        "count_shard",
        random.randrange(COUNT_SHARDS),  # noqa: S311 (spreading load, not security)
    )
    connection = session.connection()
    connection.execute(
        _count_upsert(connection.dialect.name),
        {"petition_id": petition_id, "shard": shard, "confirmed": delta},
    )


@functools.cache
def _count_upsert(dialect: str) -> Any:
    table = table_of(CountShard)
    # The dialect's own INSERT, which has ON CONFLICT. Looked up by name, not imported above:
    # the engine has already loaded its own dialect, and PostgreSQL's package (~40 ms) would
    # otherwise be loaded by every start on SQLite too.
    insert = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert(table)
    return insert.on_conflict_do_update(
        index_elements=["petition_id", "shard"],
        set_={"confirmed": table.c.confirmed + insert.excluded.confirmed},
    )
