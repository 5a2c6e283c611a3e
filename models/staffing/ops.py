"""Changes to the 实名制 snapshot (persons), in the caller's transaction. The persons import writes
one audit row per person added, updated or removed (it masks the 身份证号 first)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, text
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import AuditEvent
from models.base import table_of, utcnow
from models.staffing.persons import Person


def update_person(session: AsyncSession, *, person: Person, changes: dict[str, Any]) -> None:
    """Only the changed fields; `imported_at` says when the snapshot last changed this person."""
    for key, value in changes.items():
        setattr(person, key, value)
    person.imported_at = utcnow()
    session.add(person)


async def remove_person(session: AsyncSession, *, person: Person) -> None:
    """移出: the person is no longer in the unit's snapshot."""
    await session.delete(person)


def add_audit_row(session: AsyncSession, row: dict[str, Any]) -> None:
    """One audit row of the import (built by the import, which masks the 身份证号)."""
    session.add(AuditEvent(**row))


PERSON_COLUMNS = tuple(c for c in table_of(Person).columns.keys() if c not in ("id", "imported_at"))


class PersonBatch:
    """New persons and their audit rows, inserted a few thousand at a time (Core executemany) in the
    import's transaction, instead of one ORM object each: a 1,000,000-person file stays fast."""

    SIZE = 5000

    def __init__(self, session: AsyncSession, now: datetime, defaults: dict[str, Any] | None = None) -> None:
        self.session, self.now, self.defaults = session, now, defaults or {}
        self.persons: list[dict[str, Any]] = []
        self.audits: list[dict[str, Any]] = []

    async def add(self, values: dict[str, Any], audit: dict[str, Any]) -> None:
        row = {k: values.get(k, self.defaults.get(k)) for k in PERSON_COLUMNS}
        row["imported_at"] = self.now
        self.persons.append(row)
        self.audits.append(audit | {"at": self.now})
        if len(self.persons) >= self.SIZE:
            await self.flush()

    async def flush(self) -> None:
        if self.persons:
            await self.session.exec(insert(table_of(Person)), params=self.persons)
            await self.session.exec(insert(table_of(AuditEvent)), params=self.audits)
        self.persons, self.audits = [], []


async def refresh_statistics(session: AsyncSession) -> None:
    """After a large import on PostgreSQL: fresh planner statistics for the incremental 预警 scan that
    follows (autovacuum would come later)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.exec(text("ANALYZE person"))  # type: ignore[call-overload]
