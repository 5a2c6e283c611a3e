"""What the 监管评价 file imports read and write (the import handlers hold no queries)."""

from __future__ import annotations

from datetime import date

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.evaluation.tables import Complaint, Indicator
from models.staffing.units import Unit


async def all_units(session: AsyncSession) -> list[Unit]:
    return list((await session.exec(select(Unit))).all())


async def indicators_by_name(session: AsyncSession) -> dict[str, Indicator]:
    return {i.name: i for i in (await session.exec(select(Indicator))).all()}


async def complaint_keys(session: AsyncSession) -> set[tuple[date, int, str, str]]:
    rows = await session.exec(select(Complaint))
    return {(c.day, c.unit_id, c.category, c.summary) for c in rows.all()}
