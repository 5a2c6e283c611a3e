"""`db upgrade` on a populated database, from every earlier migration to head.

The database is built at a start revision, every table gets a row (values generated from the
reflected schema, foreign keys pointing at the parents' rows), and then it is upgraded one
revision at a time to head; each revision's new tables get their row on the way. At head every
row must still be there with the same values, and the bot's models must read them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlmodel import select

from bot.db import Database
from bot.migrate import _alembic_config, is_current, upgrade
from models import Account, InboundMessage, Unit

SCRIPT = ScriptDirectory.from_config(_alembic_config(None))
REVISIONS = [r.revision for r in reversed(list(SCRIPT.walk_revisions()))]  # 0001 … head
WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def _value(column: dict[str, Any], table: str, fks: dict[str, str], n: int) -> Any:
    kind = column["type"]
    if column["name"] in fks:
        return 1
    if isinstance(kind, sa.Boolean):
        return True
    if isinstance(kind, sa.Integer):
        return 1 if column["name"] == "id" else 7 + n
    if isinstance(kind, sa.Float | sa.Numeric):
        return 0.5
    if isinstance(kind, sa.DateTime):
        return WHEN if getattr(kind, "timezone", False) else WHEN.replace(tzinfo=None)
    if isinstance(kind, sa.Date):
        return date(2026, 3, 4)
    if isinstance(kind, sa.LargeBinary):
        return b"x"
    if isinstance(kind, sa.String | sa.Text):
        length = getattr(kind, "length", None) or 20
        return f"{table[:3]}{n}"[:length]
    raise AssertionError(f"no sample value for {table}.{column['name']}: {kind!r}")


def _fill(sync_conn: sa.Connection, tables: set[str], rows: dict[str, dict[str, Any]]) -> None:
    """Insert one row into each table in `tables`, parents first."""
    meta = sa.MetaData()
    meta.reflect(sync_conn)
    inspector = sa.inspect(sync_conn)
    for table in meta.sorted_tables:
        if table.name not in tables or table.name == "alembic_version":
            continue
        fks = {c: fk["referred_table"] for fk in inspector.get_foreign_keys(table.name)
               for c in fk["constrained_columns"]}
        values = {c["name"]: _value(c, table.name, fks, i) for i, c in enumerate(inspector.get_columns(table.name))}
        sync_conn.execute(table.insert().values(**values))
        rows[table.name] = values


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a.replace(tzinfo=None) == (b.astimezone(UTC).replace(tzinfo=None) if b.tzinfo else b)
    return a == b or str(a) == str(b)


def _check(sync_conn: sa.Connection, rows: dict[str, dict[str, Any]]) -> list[str]:
    meta = sa.MetaData()
    meta.reflect(sync_conn)
    problems = []
    for name, values in rows.items():
        table = meta.tables[name]
        pk = {c.name: values[c.name] for c in table.primary_key.columns}
        found = sync_conn.execute(sa.select(table).filter_by(**pk)).mappings().all()
        if len(found) != 1:
            problems.append(f"{name}: row {pk} lost")
            continue
        problems += [f"{name}.{k}: {v!r} became {found[0][k]!r}" for k, v in values.items()
                     if k in found[0] and not _same(found[0][k], v)]
    return problems


def _tables(sync_conn: sa.Connection) -> set[str]:
    return set(sa.inspect(sync_conn).get_table_names())


@pytest.mark.parametrize("start", REVISIONS[:-1])
async def test_upgrade_populated_database_to_head(start: str, db_url: str):
    assert REVISIONS[0] == "0001" and len(REVISIONS) >= 2
    db = Database(db_url)
    rows: dict[str, dict[str, Any]] = {}
    try:
        await upgrade(db, start)
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: _fill(c, _tables(c), rows))
        for revision in REVISIONS[REVISIONS.index(start) + 1:]:
            async with db.engine.connect() as conn:
                before = await conn.run_sync(_tables)
            await upgrade(db, revision)
            async with db.engine.begin() as conn:
                await conn.run_sync(lambda c, old=before: _fill(c, _tables(c) - old, rows))
        assert await is_current(db)
        async with db.engine.connect() as conn:
            assert await conn.run_sync(lambda c: _check(c, rows)) == []
        assert {"unit", "account", "inboundmessage", "outboxmessage"} <= set(rows)
        async with db.read() as session:  # the models of head read the old rows
            unit = (await session.exec(select(Unit))).one()
            account = (await session.exec(select(Account))).one()
            inbound = (await session.exec(select(InboundMessage))).one()
        assert unit.id == 1 and account.unit_id == 1 and inbound.received_at.year == 2026
    finally:
        await db.dispose()
