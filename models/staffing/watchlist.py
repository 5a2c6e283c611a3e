"""监管异常名录: units under closer watch (重点监管).

Evaluation (监管评价) writes the list; the capabilities below it only read it: the 走访 planner puts
listed units first, 双随机 draws count them twice, 台账 and 预警 mark them. The table lives here, in
the shared staffing package, so that nobody imports upwards.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import utcnow

# why a unit entered the list (`source`)
BY_COMPLAINTS, BY_RECURRENCE, BY_TIER, BY_OFFICE = "complaints", "recurrence", "tier", "office"
SOURCE_LABELS = {BY_COMPLAINTS: "投诉集中", BY_RECURRENCE: "同类问题反复出现", BY_TIER: "年度考评不达标",
                 BY_OFFICE: "编办决定"}


class WatchEntry(SQLModel, table=True):
    """One stay of a unit on the list: open while `until` is empty."""

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    source: str = Field(max_length=20)  # one of SOURCE_LABELS
    reason: str = Field(max_length=500)
    since: date
    until: date | None = Field(default=None, index=True)
    exit_reason: str = Field(default="", max_length=500)
    added_by: str = Field(default="", max_length=64)  # userId, or "" for a rule
    removed_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


async def watched_unit_ids(session: AsyncSession) -> set[int]:
    """Units on the list now."""
    rows = await session.exec(select(WatchEntry.unit_id).where(col(WatchEntry.until).is_(None)))
    return set(rows.all())


async def open_entries(session: AsyncSession) -> list[WatchEntry]:
    rows = await session.exec(select(WatchEntry).where(col(WatchEntry.until).is_(None)).order_by(
        col(WatchEntry.since), col(WatchEntry.id)))
    return list(rows.all())
