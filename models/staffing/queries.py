"""Reads of units and persons: each takes the caller's session (its transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.staffing.persons import Person
from models.staffing.units import Unit


async def all_units(session: AsyncSession) -> list[Unit]:
    return list((await session.exec(select(Unit))).all())


async def unit_by_id(session: AsyncSession, *, unit_id: int) -> Unit | None:
    return await session.get(Unit, unit_id)


async def persons_of_units(session: AsyncSession, *, unit_ids: list[int]) -> list[Person]:
    """The stored persons of these units (chunked: a database limits the parameters of one query)."""
    found: list[Person] = []
    for chunk in _chunks(sorted(unit_ids)):
        found += (await session.exec(select(Person).where(col(Person.unit_id).in_(chunk)))).all()
    return found


async def units_holding(session: AsyncSession, *, id_numbers: set[str]) -> set[int]:
    """The units whose snapshot lists any of these 身份证号."""
    found: set[int] = set()
    for chunk in _chunks(sorted(id_numbers)):
        query = select(Person.unit_id).where(col(Person.id_number).in_(chunk)).distinct()
        found.update((await session.exec(query)).all())
    return found


T = TypeVar("T")


def _chunks(items: Sequence[T], size: int = 1000) -> list[Sequence[T]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
