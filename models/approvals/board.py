"""监督看板 queries for 审批: 当日办结率 per month (one pass over the items), and the stuck items.

当日办结率 is counted as in stats.py (daily types, withdrawn items excluded, same day = 0 working
days); the averages per type come from stats.period_stats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, case, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.approvals.tables import DAILY_TYPES, IN_PROGRESS, WITHDRAWN, ApprovalItem
from models.staffing.units import Unit

T = ApprovalItem.__table__.c  # type: ignore[attr-defined]
U = Unit.__table__.c  # type: ignore[attr-defined]


@dataclass
class MonthRate:
    month: date  # first day of the month
    submitted: int
    same_day: int

    @property
    def rate(self) -> float | None:
        return self.same_day / self.submitted if self.submitted else None


@dataclass
class StuckItem:
    number: str
    title: str
    type: str
    unit: str
    stage: str
    handler: str
    stage_since: datetime


def month_starts(today: date, n: int = 12) -> list[date]:
    """The first days of the last `n` months, oldest first, this month included."""
    y, m = today.year, today.month
    out = []
    for _ in range(n):
        out.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


async def monthly_same_day(session: AsyncSession, months: list[date], unit_id: int | None = None) -> list[MonthRate]:
    """当日办结率 of each month (items submitted in it), in one grouped pass."""
    where = and_(T.submitted_on >= months[0], T.submitted_on < _next_month(months[-1]),
                 T.type.in_(DAILY_TYPES), T.status != WITHDRAWN)
    if unit_id is not None:
        where = and_(where, T.unit_id == unit_id)
    columns = []
    for m in months:
        inside = and_(T.submitted_on >= m, T.submitted_on < _next_month(m))
        same_day = and_(inside, T.working_days == 0)
        columns += [func.sum(case((inside, 1), else_=0)), func.sum(case((same_day, 1), else_=0))]
    row = (await session.exec(select(*columns).where(where))).one()  # type: ignore[call-overload]
    return [MonthRate(m, int(row[2 * i] or 0), int(row[2 * i + 1] or 0)) for i, m in enumerate(months)]


async def stuck_items(session: AsyncSession, stage_before: datetime, unit_id: int | None = None,
                      limit: int = 10) -> tuple[int, list[StuckItem]]:
    """Items in progress whose current stage began before `stage_before`: how many, and the longest ones."""
    where = and_(T.status == IN_PROGRESS, T.stage_since < stage_before)
    if unit_id is not None:
        where = and_(where, T.unit_id == unit_id)
    (total,) = (await session.exec(select(func.count()).select_from(ApprovalItem).where(where))).one()  # type: ignore[call-overload]
    rows = (await session.exec(select(  # type: ignore[call-overload]
        T.number, T.title, T.type, U.short_name, U.name, T.stage, T.handler_name, T.stage_since,
    ).join(Unit, U.id == T.unit_id).where(where).order_by(T.stage_since, T.number).limit(limit))).all()
    return int(total), [
        StuckItem(n, title, type_, short or name, stage, handler, since)
        for n, title, type_, short, name, stage, handler, since in rows]
