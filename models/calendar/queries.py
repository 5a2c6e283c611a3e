"""Reads of the imported holiday arrangements: each takes the caller's session (its transaction)."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.calendar.tables import HolidayOverride


async def holiday_overrides(session: AsyncSession) -> list[HolidayOverride]:
    return list((await session.exec(select(HolidayOverride))).all())
