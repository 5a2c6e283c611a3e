"""Writing a persons file into the 实名制 snapshot a chunk at a time, in the caller's transaction.

The import (handlers/staffing/import_persons.py) decides what each row means; this class reads the
stored persons a chunk needs, writes the chunk (COPY on PostgreSQL) and remembers which person each row
of the file landed on: one bit per person stored before the import, and the ids and rows of the persons
it adds (increasing, so a later row that lands on one finds the first row by bisection). From these it
finds the rows that repeat an earlier row's person and, at the end, the persons no longer listed (移出).
A file of a million persons costs a few arrays, never a million objects.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import suppress
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import RowMapping, String, and_, any_, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import AuditEvent
from models.base import table_of
from models.bulk import Ids, bulk_insert
from models.staffing.persons import Person

PERSONS = table_of(Person)
AUDITS = table_of(AuditEvent)
PERSON_COLUMNS = tuple(c for c in PERSONS.columns.keys() if c not in ("id", "imported_at"))
AUDIT_COLUMNS = ("action", "entity", "entity_id", "actor_user_id", "actor_account_id", "detail")
_PERSON_VALUES, _AUDIT_VALUES = itemgetter(*PERSON_COLUMNS), itemgetter(*AUDIT_COLUMNS)
Key = tuple[int, str]  # (unit_id, id_number)
LOOKUP_SIZE = 1000  # parameters of one lookup (every database takes this many)
SQLITE_CACHE_KIB = 65536  # SQLite's page cache while an import runs (the default 2 MB makes a million
# inserts into the person indexes read the same pages again and again); put back by `finish`


class SnapshotWriter:
    """One import's writes. `start()` first; then per chunk `stored`, `add`, `update`, `keep`;
    then `repeats()`, `unlisted()` and `remove()`."""

    def __init__(self, session: AsyncSession, now: datetime) -> None:
        self.session, self.now = session, now
        self.before = 0  # largest person id before the import: larger ones were added by it
        self.listed = bytearray()  # bit n: stored person n (n ≤ before) is listed by a row of the file
        self.old = (array("q"), array("l"))  # stored persons listed: id, row (to name the first of repeats)
        self.new = (array("q"), array("l"))  # persons added: id (increasing), row
        self.twice: list[tuple[int, int]] = []  # (row, person id) of rows landing on a listed stored person
        self.found: list[tuple[int, int]] = []  # (row, earlier row) of rows landing on a person added
        self.unit_ids: set[int] = set()  # the units the file lists
        self.fresh = False  # see start
        self.postgres = session.bind is not None and session.bind.dialect.name == "postgresql"
        self._ids = Ids(PERSONS)

    @property
    def overlaps(self) -> bool:
        """Whether writing a chunk while the next is checked pays: PostgreSQL works in its own process;
        SQLite's driver binds each row holding the GIL, so both sides slow down (measured: 66 s against
        62 s for a million persons)."""
        return self.postgres

    async def start(self) -> None:
        conn = await self.session.connection()
        if self.postgres:
            # The table grows by up to a million rows within this transaction, unknown to the planner's
            # statistics: without these, the lookups by 身份证号 turn into scans of the whole table.
            await conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
            await conn.execute(text("SET LOCAL enable_seqscan = off"))
        else:
            await conn.execute(text(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}"))
        self.before = (await conn.execute(select(func.max(PERSONS.c.id)))).scalar() or 0
        # Into an empty snapshot on SQLite nothing can be found by a lookup but this file's own earlier
        # rows: instead of looking up every chunk, the insert skips a taken key and `add` names the row.
        self.fresh = not self.before and not self.overlaps
        self.listed = bytearray(self.before // 8 + 1)

    async def finish(self) -> None:
        """Give back what `start` took (the connection returns to the pool)."""
        if not self.postgres:
            with suppress(SQLAlchemyError):  # after a failed statement the transaction is rolled back anyway
                await (await self.session.connection()).execute(text("PRAGMA cache_size = -2000"))

    async def stored(self, id_numbers: Iterable[str]) -> list[RowMapping]:
        """Every stored person (any unit) with one of these 身份证号: the chunk's own and their other posts."""
        if self.fresh:
            return []
        conn = await self.session.connection()
        wanted = sorted(set(id_numbers))
        if self.postgres:  # one array parameter: one statement per chunk
            query = select(PERSONS).where(PERSONS.c.id_number == any_(bindparam("wanted", type_=ARRAY(String))))
            return list((await conn.execute(query, {"wanted": wanted})).mappings().all())
        found: list[RowMapping] = []
        for i in range(0, len(wanted), LOOKUP_SIZE):
            query = select(PERSONS).where(PERSONS.c.id_number.in_(wanted[i:i + LOOKUP_SIZE]))
            found += (await conn.execute(query)).mappings().all()
        return found

    def keep(self, person_id: int, row: int, unit_id: int) -> None:
        """Row `row` of the file lists stored person `person_id` (to be updated or left unchanged)."""
        self.unit_ids.add(unit_id)
        if person_id > self.before:  # added by an earlier row of this file
            ids, rows = self.new
            self.found.append((row, rows[bisect_left(ids, person_id)]))
            return
        if self._listed(person_id):
            self.twice.append((row, person_id))
        else:
            self.listed[person_id >> 3] |= 1 << (person_id & 7)
            self.old[0].append(person_id)
            self.old[1].append(row)

    def _listed(self, person_id: int) -> bool:
        return bool(self.listed[person_id >> 3] >> (person_id & 7) & 1)

    async def add(self, persons: list[tuple[int, dict[str, Any]]], audits: list[dict[str, Any]]) -> None:
        """New persons (row number, full values) with their audit rows."""
        ids = await self._ids.take(self.session, len(persons))
        records = [(pid, *_PERSON_VALUES(values), self.now) for pid, (_, values) in zip(ids, persons, strict=True)]
        columns = ("id", *PERSON_COLUMNS, "imported_at")
        if await bulk_insert(self.session, PERSONS, columns, records, skip_taken=self.fresh) < len(records):
            ids = await self._taken(ids, persons)
        for person_id, (row, values) in zip(ids, persons, strict=True):
            if person_id:
                self.new[0].append(person_id)
                self.new[1].append(row)
                self.unit_ids.add(values["unit_id"])
        await self.audit(audits)

    async def _taken(self, ids: list[int], persons: list[tuple[int, dict[str, Any]]]) -> list[int]:
        """The ids that went in (0 for the rest): a row left out repeats the key of an earlier chunk's row."""
        conn = await self.session.connection()
        stored: set[int] = set()
        for i in range(0, len(ids), LOOKUP_SIZE):
            query = select(PERSONS.c.id).where(PERSONS.c.id.in_(ids[i:i + LOOKUP_SIZE]))
            stored.update((await conn.execute(query)).scalars().all())
        kept = []
        for person_id, (row, values) in zip(ids, persons, strict=True):
            if person_id in stored:
                kept.append(person_id)
                continue
            key = and_(PERSONS.c.unit_id == values["unit_id"], PERSONS.c.id_number == values["id_number"])
            earlier = (await conn.execute(select(PERSONS.c.id).where(key))).scalar()
            if earlier is None or earlier <= self.before:
                raise RuntimeError(f"row {row}: not written, and its key is not taken by this file")
            self.found.append((row, self.new[1][bisect_left(self.new[0], earlier)]))
            kept.append(0)
        return kept

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
        records = [(self.now, *_AUDIT_VALUES(a)) for a in audits]
        await bulk_insert(self.session, AUDITS, ("at", *AUDIT_COLUMNS), records)

    def repeats(self) -> list[tuple[int, int]]:
        """(row, first row) for every row that lands on a person an earlier row already listed."""
        wanted = {person_id for _, person_id in self.twice}
        first = {pid: row for pid, row in zip(*self.old, strict=True) if pid in wanted} if wanted else {}
        return sorted(self.found + [(row, first[pid]) for row, pid in self.twice])

    async def unlisted(self) -> AsyncIterator[list[RowMapping]]:
        """Batches of the persons (every column) of the file's units that the file does not list."""
        if not self.before:  # nobody was stored before this file
            return
        conn = await self.session.connection()
        units = sorted(self.unit_ids)
        for i in range(0, len(units), LOOKUP_SIZE):
            query = select(PERSONS.c.id).where(and_(PERSONS.c.unit_id.in_(units[i:i + LOOKUP_SIZE]),
                                                    PERSONS.c.id <= self.before))
            gone = [pid for (pid,) in (await conn.execute(query)).all() if not self._listed(pid)]
            for j in range(0, len(gone), LOOKUP_SIZE):
                rows = await conn.execute(select(PERSONS).where(PERSONS.c.id.in_(gone[j:j + LOOKUP_SIZE])))
                yield list(rows.mappings().all())

    async def remove(self, person_ids: list[int], audits: list[dict[str, Any]]) -> None:
        """移出: these persons are no longer in their unit's snapshot."""
        conn = await self.session.connection()
        for i in range(0, len(person_ids), LOOKUP_SIZE):
            await conn.execute(delete(PERSONS).where(PERSONS.c.id.in_(person_ids[i:i + LOOKUP_SIZE])))
        await self.audit(audits)
