"""Bulk writes for large imports, in the caller's transaction: COPY on PostgreSQL (asyncpg), a plain
executemany on SQLite. Both roll back with the transaction like any other statement."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Boolean, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else ""


async def bulk_insert(session: AsyncSession, table: Table, columns: Sequence[str],
                      records: Sequence[tuple[Any, ...]], *, skip_taken: bool = False) -> int:
    """Insert `records` (tuples of the columns' Python values, in `columns` order); how many went in.
    PostgreSQL: COPY moves a few thousand rows in one round trip where an INSERT would parse and plan
    each batch. SQLite: one executemany of the values converted by the columns' own types (as
    SQLAlchemy would, without its per-row statement bookkeeping); `skip_taken` leaves out, instead of
    failing on, the rows whose unique key is taken (SQLite only: the caller finds which)."""
    if not records:
        return 0
    conn = await session.connection()
    if _dialect(session) == "postgresql":
        assert not skip_taken, "COPY cannot skip rows"
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.copy_records_to_table(table.name, columns=list(columns), records=records)
        return len(records)
    convert = [(i, _Memo(proc)) for i, name in enumerate(columns)  # (sqlite3 binds a bool as 0 / 1 itself)
               if not isinstance(table.c[name].type, Boolean)
               and (proc := table.c[name].type._cached_bind_processor(conn.dialect)) is not None]
    if convert:
        records = [_converted(record, convert) for record in records]
    marks = ", ".join("?" for _ in columns)
    verb = "INSERT OR IGNORE" if skip_taken else "INSERT"
    result = await conn.exec_driver_sql(f"{verb} INTO {table.name} ({', '.join(columns)}) VALUES ({marks})",
                                        list(records))
    return result.rowcount if skip_taken else len(records)


class _Memo(dict[Any, Any]):
    """A column's bind processor, run once per distinct value (dates and flags repeat a lot)."""

    def __init__(self, proc: Callable[[Any], Any]) -> None:
        super().__init__()
        self.proc = proc

    def __missing__(self, value: Any) -> Any:
        converted = self[value] = self.proc(value)
        return converted


def _converted(record: tuple[Any, ...], convert: list[tuple[int, _Memo]]) -> tuple[Any, ...]:
    values = list(record)
    for i, memo in convert:
        values[i] = memo[values[i]]
    return tuple(values)


class Ids:
    """Fresh primary keys of `table` for rows inserted with explicit ids (so the caller knows them
    without RETURNING, which COPY lacks). PostgreSQL takes them from the column's sequence; SQLite
    counts on from the largest id, which is safe because its write transaction holds the database's
    only write lock until the rows are in."""

    def __init__(self, table: Table) -> None:
        self.table, self._next = table, 0

    async def take(self, session: AsyncSession, count: int) -> list[int]:
        if count <= 0:
            return []
        conn = await session.connection()
        if _dialect(session) == "postgresql":
            return await self._from_sequence(conn, count)
        if not self._next:
            self._next = ((await conn.execute(select(func.max(self.table.c.id)))).scalar() or 0) + 1
        first, self._next = self._next, self._next + count
        return list(range(first, first + count))

    async def _from_sequence(self, conn: AsyncConnection, count: int) -> list[int]:
        """`count` values of the sequence in one statement; usually one run (first, last), sent back as
        two numbers rather than `count` rows. Other sessions may take values in between: then all come."""
        taken = ("SELECT nextval(pg_get_serial_sequence(:table, 'id')) AS v FROM generate_series(1, :n)")
        params = {"table": self.table.name, "n": count}
        low, high = (await conn.execute(text(f"SELECT min(v), max(v) FROM ({taken}) AS taken"), params)).one()
        if high - low + 1 == count:  # `count` distinct values in a run of `count`: that run
            return list(range(low, high + 1))
        return [int(n) for (n,) in (await conn.execute(text(taken), params)).all()]
