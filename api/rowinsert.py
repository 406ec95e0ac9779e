"""Writing many rows of one table in one statement, with each column's conversion applied:
the inserts group commit runs for a batch (signatures, their tokens, their mails)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Dialect, Table


class RowInsert:
    """INSERT of many rows of one table, sent through the driver with each column type's own
    conversion (its SQLAlchemy bind processor) applied: what `connection.execute(insert(table),
    rows)` stores, for the rows group commit writes. On SQLite, one multi-row statement; on
    PostgreSQL, one INSERT ... SELECT FROM unnest of an array per column. Drivers with other
    parameter styles are not supported.

    Why: on SQLite that call is the driver's executemany, where each row is a step of its own
    that lets go of the GIL; inside the write lock, which every process's writer waits for,
    each of those is a chance for the event loop to take the GIL back for a while. One
    statement is one step. (`insert(table).values(rows)` is one statement too, but SQLAlchemy
    builds and compiles it anew for every batch: twice the writer's CPU, measured.) On
    PostgreSQL it saves SQLAlchemy's per-row work and the server's planning of each row.
    """

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        *,
        returning: Sequence[str] = (),
        suffix: str = "",
    ) -> None:
        """`suffix` is SQL both databases take after the VALUES (an ON CONFLICT clause);
        with `returning`, `execute` returns those columns of each row written, in no order,
        as the driver gives them."""
        self.table = table
        self.columns = tuple(columns)
        self.returning = tuple(returning)
        self.suffix = suffix
        self._prepared: dict[tuple[str, int], str] = {}
        self._processors: dict[str, list[Any]] = {}

    def execute(
        self, connection: Connection, rows: Sequence[dict[str, Any]]
    ) -> list[tuple[Any, ...]]:
        return self._write(connection, rows)[0]

    def count_and_last_id(
        self, connection: Connection, rows: Sequence[dict[str, Any]]
    ) -> tuple[int, int | None]:
        """On SQLite: write the rows; how many were written (those an ON CONFLICT clause
        skipped are not), and the rowid of the last one written (None if none was). SQLite
        gives a new row the largest rowid in the table plus one (short of 2^63 - 1), so
        within a write transaction the rows written get consecutive ids, in order, ending at
        that one: the ids need no statement of their own to be known."""
        if connection.dialect.paramstyle != "qmark":
            raise NotImplementedError("RowInsert.count_and_last_id: SQLite only")
        last: list[int] = []
        count = self._write(connection, rows, last_ids=last)[1]
        return count, (last[-1] if count else None)

    def _write(
        self,
        connection: Connection,
        rows: Sequence[dict[str, Any]],
        last_ids: list[int] | None = None,
    ) -> tuple[list[tuple[Any, ...]], int]:
        if not rows:
            return [], 0
        dialect = connection.dialect
        if dialect.paramstyle not in ("qmark", "format", "pyformat"):
            raise NotImplementedError(f"RowInsert: {dialect.paramstyle} parameters")
        processors = self._processors.get(dialect.name)
        if processors is None:
            processors = self._processors[dialect.name] = [
                self.table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                for name in self.columns
            ]
        values = _bound_values(rows, self.columns, processors)
        if dialect.paramstyle != "qmark":
            # One short statement whatever the number of rows: each column's values as one
            # array. A multi-row VALUES with placeholders for every value is parsed by psycopg
            # on every batch (too long for its cache): 3 ms of the writer's time per batch of
            # 32 signatures, measured. An executemany is one round trip too (pipelined), but
            # PostgreSQL plans each of its rows (app connections plan every statement, see
            # api.db.build_engine), where this is planned once.
            columns = tuple(list(column) for column in zip(*values, strict=True))
            result = connection.exec_driver_sql(self._unnest_sql(dialect), columns)
            if self.returning:
                returned = [tuple(row) for row in result]
                return returned, len(returned)
            return [], result.rowcount
        # One multi-row statement (on SQLite one step), as many as the parameter limit needs.
        per_statement = max(1, _parameter_limit(connection) // len(self.columns))
        written: list[tuple[Any, ...]] = []
        count = 0
        for start in range(0, len(values), per_statement):
            chunk = values[start : start + per_statement]
            flat = tuple(value for row_values in chunk for value in row_values)
            result = connection.exec_driver_sql(self._sql(dialect, len(chunk)), flat)
            if self.returning:
                returned = [tuple(row) for row in result]
                written += returned
                count += len(returned)
            else:
                count += result.rowcount
            if last_ids is not None and result.rowcount:
                last_ids.append(result.lastrowid)
        return written, count

    def _unnest_sql(self, dialect: Dialect) -> str:
        """INSERT ... SELECT from one array per column (PostgreSQL), each cast to an array of
        its column's type."""
        key = (dialect.name, -1)
        sql = self._prepared.get(key)
        if sql is None:
            # psycopg's %b sends each array in binary: its text form quotes and escapes every
            # element (a regular expression each), which was half the cost of a batch's
            # three inserts on the writer's CPU (measured: 0.77 against 0.34 ms a statement of
            # 21 columns by 16 rows, round trip included).
            placeholder = "%b" if dialect.driver == "psycopg" else "%s"
            arrays = ", ".join(
                f"{placeholder}::{self.table.c[name].type.compile(dialect=dialect)}[]"
                for name in self.columns
            )
            source = f"SELECT * FROM unnest({arrays})"  # noqa: S608 (casts from the metadata)
            sql = self._prepared[key] = self._insert(dialect, source)
        return sql

    def _sql(self, dialect: Dialect, count: int) -> str:
        """A multi-row VALUES of `count` rows, in qmark parameters (SQLite's)."""
        key = (dialect.name, count)
        sql = self._prepared.get(key)
        if sql is None:
            row = "(" + ", ".join(["?"] * len(self.columns)) + ")"
            sql = self._insert(dialect, f"VALUES {', '.join([row] * count)}")
            if len(self._prepared) < 512:  # one per batch size seen
                self._prepared[key] = sql
        return sql

    def _insert(self, dialect: Dialect, rows: str) -> str:
        """The INSERT of `rows` (a VALUES or a SELECT), with the suffix and RETURNING."""
        quote = dialect.identifier_preparer.quote
        # Names from the table's metadata, every value a parameter.
        sql = (
            f"INSERT INTO {quote(self.table.name)} "
            f"({', '.join(quote(name) for name in self.columns)}) {rows}"
        )
        if self.suffix:
            sql += f" {self.suffix}"
        if self.returning:
            sql += f" RETURNING {', '.join(quote(name) for name in self.returning)}"
        return sql


_UNSET = object()


def _bound_values(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], processors: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """Each row's values in column order, each through its column's bind processor. A value
    that is the very object the row before had in that column (the batch's timestamp, None,
    a status) is converted once: group commit calls this inside the write lock, where the
    timestamps' conversions were a tenth of the writer's time."""
    indexed = list(enumerate(zip(columns, processors, strict=True)))
    plain = [(index, name) for index, (name, process) in indexed if process is None]
    converting = [(index, name, process) for index, (name, process) in indexed if process]
    last: list[Any] = [_UNSET] * len(columns)
    converted: list[Any] = [None] * len(columns)
    values: list[tuple[Any, ...]] = []
    for row in rows:
        bound: list[Any] = [None] * len(columns)
        for index, name in plain:
            bound[index] = row[name]
        for index, name, process in converting:
            value = row[name]
            if value is not last[index]:
                last[index] = value
                converted[index] = process(value)
            bound[index] = converted[index]
        values.append(tuple(bound))
    return values


def _parameter_limit(connection: Connection) -> int:
    """How many parameters one statement may take: this SQLite build's limit (it may be as
    low as 999), or PostgreSQL's."""
    driver = connection.connection.driver_connection
    if isinstance(driver, sqlite3.Connection):
        return driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return 65535
