"""Changes to the imported holiday arrangements, in the caller's transaction (the holidays import
writes their audit rows, as for every import)."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from models.calendar.tables import HolidayOverride, HolidayYear


def update_override(session: AsyncSession, *, day: HolidayOverride, changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        setattr(day, key, value)
    session.add(day)


async def mark_year(session: AsyncSession, *, year: int, official: bool, note: str) -> bool:
    """Record whether `year`'s imported days are its official full-year arrangement; False when it
    already was recorded so."""
    row = await session.get(HolidayYear, year)
    if row is not None and row.official == official:
        return False
    if row is None:
        session.add(HolidayYear(year=year, official=official, note=note[:100]))
    else:
        row.official = official
        session.add(row)
    return True
