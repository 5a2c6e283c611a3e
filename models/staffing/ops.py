"""Changes to the 实名制 snapshot (persons), in the caller's transaction. The persons import writes
one audit row per person added, updated or removed (it masks the 身份证号 first)."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import utcnow
from models.staffing.persons import Person


def add_person(session: AsyncSession, *, values: dict[str, Any]) -> Person:
    person = Person(**values)
    session.add(person)
    return person


def update_person(session: AsyncSession, *, person: Person, changes: dict[str, Any]) -> None:
    """Only the changed fields; `imported_at` says when the snapshot last changed this person."""
    for key, value in changes.items():
        setattr(person, key, value)
    person.imported_at = utcnow()
    session.add(person)


async def remove_person(session: AsyncSession, *, person: Person) -> None:
    """移出: the person is no longer in the unit's snapshot."""
    await session.delete(person)
