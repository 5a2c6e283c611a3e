"""办结率 and friends, computed in SQL (aggregates and window functions), never by loading every row.

当日办结率 = daily-type items completed on the working day they were submitted (0 working days; an
item submitted on a rest day counts as submitted on the next working day) ÷ daily-type items
submitted in the period (by submission date; withdrawn ones excluded). While the period includes
today, items still pending whose submission working day is today (submitted after the previous
working day) are left out of the denominator and counted in `pending_today`, so they do not lower
the rate before their day is over; the reply says so. Working days per item are stored at completion
(models/approvals/ops.py), so averages and the 90th percentile (nearest rank) are plain SQL on both
SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, case, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.approvals.tables import DAILY_TYPES, DONE, WITHDRAWN, ApprovalItem

T = ApprovalItem.__table__.c  # type: ignore[attr-defined]


@dataclass
class TypeStats:
    type: str
    submitted: int
    done: int
    same_day: int
    avg_days: float | None
    p90_days: int | None = None


@dataclass
class PeriodStats:
    start: date
    end: date
    submitted: int = 0  # daily types, not withdrawn: the denominator of the rate
    same_day: int = 0
    pending_today: int = 0  # daily types still pending on their submission working day: not in `submitted`
    by_type: list[TypeStats] = field(default_factory=list)
    by_status: dict[str, int] = field(default_factory=dict)
    slowest: list[tuple[str, str, str, int]] = field(default_factory=list)  # number, type, title, working days

    @property
    def same_day_rate(self) -> float | None:
        return self.same_day / self.submitted if self.submitted else None


async def period_stats(session: AsyncSession, start: date, end: date, unit_id: int | None = None, *,
                       open_after: date | None = None) -> PeriodStats:
    """Items submitted in [start, end] (Beijing dates). `open_after`: the last working day before
    today; pending items submitted after it are still within their submission working day and are
    left out of the rate's denominator (counted in `pending_today`)."""
    scope = and_(T.submitted_on >= start, T.submitted_on <= end)
    if unit_id is not None:
        scope = and_(scope, T.unit_id == unit_id)
    stats = PeriodStats(start, end)
    counted = and_(scope, T.status != WITHDRAWN)
    rows = (await session.exec(select(  # type: ignore[call-overload]
        T.type, func.count(), func.sum(case((T.status == DONE, 1), else_=0)),
        func.sum(case((T.working_days == 0, 1), else_=0)), func.avg(T.working_days),
    ).where(counted).group_by(T.type).order_by(T.type))).all()
    p90 = await _p90_by_type(session, counted)
    for type_, submitted, done, same_day, avg in rows:
        stats.by_type.append(TypeStats(type_, submitted, done or 0, same_day or 0,
                                       float(avg) if avg is not None else None, p90.get(type_)))
        if type_ in DAILY_TYPES:
            stats.submitted += submitted
            stats.same_day += same_day or 0
    if open_after is not None:
        stats.pending_today = (await session.exec(select(func.count()).where(  # type: ignore[call-overload]
            counted, T.type.in_(DAILY_TYPES), T.status != DONE, T.submitted_on > open_after))).scalar_one()
        stats.submitted -= stats.pending_today
    stats.by_status = dict((await session.exec(  # type: ignore[call-overload]
        select(T.status, func.count()).where(scope).group_by(T.status))).all())
    stats.slowest = [tuple(r) for r in (await session.exec(  # type: ignore[call-overload]
        select(T.number, T.type, T.title, T.working_days).where(and_(scope, T.status == DONE))
        .order_by(T.working_days.desc(), T.number).limit(5))).all()]
    return stats


async def _p90_by_type(session: AsyncSession, where) -> dict[str, int]:
    """90th percentile of working days per type, nearest rank: the ceil(0.9 n)-th smallest."""
    ranked = select(
        T.type.label("type"), T.working_days.label("days"),
        func.row_number().over(partition_by=T.type, order_by=T.working_days).label("rn"),
        func.count().over(partition_by=T.type).label("n"),
    ).where(and_(where, T.status == DONE, T.working_days.is_not(None))).subquery()
    # ceil(0.9 n) == (9 n + 9) // 10 in integer arithmetic (`/` would be true division in SQLAlchemy 2)
    target = (ranked.c.n * 9 + 9) // 10
    rows = (await session.exec(select(ranked.c.type, ranked.c.days).where(ranked.c.rn == target))).all()  # type: ignore[call-overload]
    return {t: d for t, d in rows}
