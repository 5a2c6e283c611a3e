"""监督看板 queries for 审批: 当日办结率 per month and average working days per type (one pass over the
items), and the stuck items.

Both figures are counted as in stats.py (daily types for the rate, withdrawn items excluded, same
day = 0 working days); stats.period_stats answers the same for one period but also computes the
90th percentile and the slowest items, which the board does not show and which cost a second pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import String, and_, case, cast, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.approvals.tables import DAILY_TYPES, IN_PROGRESS, WITHDRAWN, ApprovalItem
from models.base import table_of
from models.staffing.units import Unit

T = table_of(ApprovalItem).c
U = table_of(Unit).c


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


@dataclass
class TypeDays:
    type: str
    done: int  # completed items (submitted in the period)
    avg_days: float | None


async def months_and_types(session: AsyncSession, months: list[date], unit_id: int | None = None,
                           ) -> tuple[list[MonthRate], list[TypeDays]]:
    """当日办结率 per month and average working days per type over the same months, in one grouped pass
    (items submitted in the months, withdrawn ones excluded: as stats.period_stats counts them)."""
    where = and_(T.submitted_on >= months[0], T.submitted_on < _next_month(months[-1]), T.status != WITHDRAWN)
    if unit_id is not None:
        where = and_(where, T.unit_id == unit_id)
    # grouped by day (the index order) and type, folded into months here: cheaper than a month expression
    # the day as text ('YYYY-MM-DD' on both databases): a few thousand rows, no date objects to build
    rows = (await session.exec(select(  # type: ignore[call-overload]
        cast(T.submitted_on, String), T.type, func.count(), func.sum(case((T.working_days == 0, 1), else_=0)),
        func.count(T.working_days), func.sum(T.working_days),
    ).where(where).group_by(T.submitted_on, T.type))).all()
    by_month = {m.isoformat()[:7]: MonthRate(m, 0, 0) for m in months}
    days: dict[str, list[int]] = {}
    for day, type_, n, same_day, done, total_days in rows:
        key = day[:7]
        if type_ in DAILY_TYPES and key in by_month:
            by_month[key].submitted += int(n)
            by_month[key].same_day += int(same_day or 0)
        if done:
            acc = days.setdefault(type_, [0, 0])
            acc[0] += int(done)
            acc[1] += int(total_days or 0)
    types = [TypeDays(t, done, total / done) for t, (done, total) in sorted(days.items())]
    return list(by_month.values()), types


async def stuck_items(session: AsyncSession, stage_before: datetime, unit_id: int | None = None,
                      limit: int = 10) -> tuple[int, list[StuckItem]]:
    """Items in progress whose current stage began before `stage_before`: how many, and the longest ones."""
    where = and_(T.status == IN_PROGRESS, T.stage_since < stage_before)
    if unit_id is not None:
        where = and_(where, T.unit_id == unit_id)
    rows = (await session.exec(select(  # type: ignore[call-overload]
        T.number, T.title, T.type, U.short_name, U.name, T.stage, T.handler_name, T.stage_since,
        func.count().over().label("total"),  # all the stuck items, counted in the same pass
    ).join(Unit, U.id == T.unit_id).where(where).order_by(T.stage_since, T.number).limit(limit))).all()
    return (int(rows[0][-1]) if rows else 0), [
        StuckItem(n, title, type_, short or name, stage, handler, since)
        for n, title, type_, short, name, stage, handler, since, _total in rows]
