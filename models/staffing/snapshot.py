"""Writing a persons file into the 实名制 snapshot a chunk at a time, in the caller's transaction.

The import (handlers/staffing/import_persons.py) decides what each row means; this class reads the
stored persons a chunk needs, writes the chunk (COPY on PostgreSQL) and remembers, in two flat arrays,
which stored person each row of the file landed on. From those arrays it finds, once the file has been
read, the rows that repeat an earlier row's person and the persons no longer listed (移出). So a file of
a million persons costs a few arrays, never a million objects.
"""

from __future__ import annotations

from array import array
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, and_, bindparam, delete, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import AuditEvent
from models.base import table_of
from models.bulk import Ids, bulk_insert
from models.staffing.persons import Person

PERSONS = table_of(Person)
AUDITS = table_of(AuditEvent)
PERSON_COLUMNS = tuple(c for c in PERSONS.columns.keys() if c not in ("id", "imported_at"))
AUDIT_COLUMNS = ("action", "entity", "entity_id", "actor_user_id", "actor_account_id", "detail")
Key = tuple[int, str]  # (unit_id, id_number)
LOOKUP_SIZE = 1000  # parameters of one lookup (every database takes this many)


class SnapshotWriter:
    """One import's writes. `start()` first; then per chunk `stored`, `add`, `update`, `keep`;
    then `repeats()`, `unlisted()` and `remove()`."""

    def __init__(self, session: AsyncSession, now: datetime) -> None:
        self.session, self.now = session, now
        self.before = 0  # largest person id before the import: larger ones were added by it
        self.ids = array("q")  # the person each accepted row landed on …
        self.rows = array("l")  # … and that row's number
        self.unit_ids: set[int] = set()  # the units the file lists
        self._seen: set[int] | None = None
        self._ids = Ids(PERSONS)

    async def start(self) -> None:
        conn = await self.session.connection()
        self.before = (await conn.execute(select(func.max(PERSONS.c.id)))).scalar() or 0

    async def stored(self, id_numbers: Iterable[str]) -> list[RowMapping]:
        """Every stored person (any unit) with one of these 身份证号: the chunk's own and their other posts."""
        conn = await self.session.connection()
        wanted = sorted(set(id_numbers))
        found: list[RowMapping] = []
        for i in range(0, len(wanted), LOOKUP_SIZE):
            query = select(PERSONS).where(PERSONS.c.id_number.in_(wanted[i:i + LOOKUP_SIZE]))
            found += (await conn.execute(query)).mappings().all()
        return found

    def keep(self, person_id: int, row: int, unit_id: int) -> None:
        """Row `row` of the file lists stored person `person_id` (added, updated or unchanged)."""
        self.ids.append(person_id)
        self.rows.append(row)
        self.unit_ids.add(unit_id)

    async def add(self, persons: list[tuple[int, dict[str, Any]]], audits: list[dict[str, Any]]) -> None:
        """New persons (row number, full values) with their audit rows."""
        ids = await self._ids.take(self.session, len(persons))
        records = []
        for person_id, (row, values) in zip(ids, persons, strict=True):
            records.append((person_id, *[values[k] for k in PERSON_COLUMNS], self.now))
            self.keep(person_id, row, values["unit_id"])
        await bulk_insert(self.session, PERSONS, ("id", *PERSON_COLUMNS, "imported_at"), records)
        await self.audit(audits)

    async def update(self, changed: list[tuple[int, dict[str, Any]]], audits: list[dict[str, Any]]) -> None:
        """Stored persons (id, full values) whose values changed; `imported_at` says when."""
        if changed:
            statement = (update(PERSONS).where(PERSONS.c.id == bindparam("_id"))
                         .values({c: bindparam(c) for c in (*PERSON_COLUMNS, "imported_at")}))
            params = [{"_id": pid, **{k: values[k] for k in PERSON_COLUMNS}, "imported_at": self.now}
                      for pid, values in changed]
            await (await self.session.connection()).execute(statement, params)
        await self.audit(audits)

    async def audit(self, audits: Sequence[dict[str, Any]]) -> None:
        """Audit rows (action, entity, entity_id, actor_user_id, actor_account_id, detail), stamped now."""
        records = [(self.now, *[a[k] for k in AUDIT_COLUMNS]) for a in audits]
        await bulk_insert(self.session, AUDITS, ("at", *AUDIT_COLUMNS), records)

    def repeats(self) -> list[tuple[int, int]]:
        """(row, earliest row) for every row that lands on a person another row already listed."""
        seen: set[int] = set()
        twice: set[int] = set()
        for person_id in self.ids:
            if person_id in seen:
                twice.add(person_id)
            seen.add(person_id)
        self._seen = seen
        rows: dict[int, list[int]] = {}
        for person_id, row in zip(self.ids, self.rows, strict=True):
            if person_id in twice:
                rows.setdefault(person_id, []).append(row)
        return sorted((row, min(same)) for same in rows.values() for row in same if row != min(same))

    async def unlisted(self) -> AsyncIterator[list[Any]]:
        """Batches of the persons of the file's units that the file does not list (id, unit_id,
        id_number, name). Call after `repeats`."""
        seen = self._seen if self._seen is not None else set(self.ids)
        conn = await self.session.connection()
        units = sorted(self.unit_ids)
        for i in range(0, len(units), LOOKUP_SIZE):
            query = (select(PERSONS.c.id, PERSONS.c.unit_id, PERSONS.c.id_number, PERSONS.c.name)
                     .where(and_(PERSONS.c.unit_id.in_(units[i:i + LOOKUP_SIZE]), PERSONS.c.id <= self.before)))
            batch = [p for p in (await conn.execute(query)).all() if p.id not in seen]
            if batch:
                yield batch

    async def remove(self, person_ids: list[int], audits: list[dict[str, Any]]) -> None:
        """移出: these persons are no longer in their unit's snapshot."""
        conn = await self.session.connection()
        for i in range(0, len(person_ids), LOOKUP_SIZE):
            await conn.execute(delete(PERSONS).where(PERSONS.c.id.in_(person_ids[i:i + LOOKUP_SIZE])))
        await self.audit(audits)
