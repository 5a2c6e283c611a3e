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
from typing import Any

from sqlalchemy import Date, and_, case, func, literal, literal_column, select
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from models.approvals.tables import DAILY_TYPES, DONE, WITHDRAWN

T = SQLModel.metadata.tables["approvalitem"].c


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
    left out of the rate's denominator (counted in `pending_today`).

    Two statements: one pass over the period (a covering index, migration 0014) that counts items per
    type, status and working days (a small histogram: averages and the 90th percentile follow from it
    exactly), and the five slowest items."""
    scope = and_(T.submitted_on >= start, T.submitted_on <= end)
    if unit_id is not None:
        scope = and_(scope, T.unit_id == unit_id)
    stats = PeriodStats(start, end)
    fresh = func.sum(case((T.submitted_on > open_after, 1), else_=0)) if open_after is not None else literal(0)
    on: Any = T.submitted_on
    if session.bind is not None and session.bind.dialect.name == "sqlite":
        # `+column` keeps SQLite off the one-column date index: it then scans ix_approvalitem_stats, which
        # covers the query and is already in group order (no temporary b-tree; PostgreSQL plans by itself)
        on = literal_column("+approvalitem.submitted_on", type_=Date)
    period = and_(on >= start, on <= end) if unit_id is None else and_(on >= start, on <= end, T.unit_id == unit_id)
    histogram: Any = select(T.type, T.status, T.working_days, func.count(), fresh).where(period).group_by(
        T.type, T.status, T.working_days).order_by(T.type, T.status, T.working_days)
    rows = (await session.exec(histogram)).all()
    by_type: dict[str, _Tally] = {}
    for type_, status, days, n, new in rows:
        stats.by_status[status] = stats.by_status.get(status, 0) + n
        if status == WITHDRAWN:
            continue
        tally = by_type.setdefault(type_, _Tally())
        tally.add(status, days, n)
        if type_ in DAILY_TYPES and status != DONE:
            stats.pending_today += new or 0
    stats.by_status = dict(sorted(stats.by_status.items()))
    for type_, t in by_type.items():
        stats.by_type.append(TypeStats(type_, t.submitted, t.done, t.same_day,
                                       t.days_sum / t.days_n if t.days_n else None, t.p90()))
        if type_ in DAILY_TYPES:
            stats.submitted += t.submitted
            stats.same_day += t.same_day
    stats.submitted -= stats.pending_today
    slowest: Any = select(T.number, T.type, T.title, T.working_days).where(and_(scope, T.status == DONE)).order_by(
        T.working_days.desc(), T.number).limit(5)
    stats.slowest = [tuple(r) for r in (await session.exec(slowest)).all()]
    return stats


@dataclass
class _Tally:
    """One type's counts, and the working days of its completed items as a histogram."""

    submitted: int = 0
    done: int = 0
    same_day: int = 0
    days_sum: int = 0
    days_n: int = 0
    done_days: dict[int, int] = field(default_factory=dict)

    def add(self, status: str, days: int | None, n: int) -> None:
        self.submitted += n
        if status == DONE:
            self.done += n
            if days is not None:
                self.done_days[days] = self.done_days.get(days, 0) + n
        if days is not None:
            self.days_sum += days * n
            self.days_n += n
            self.same_day += n if days == 0 else 0

    def p90(self) -> int | None:
        """90th percentile of the completed items' working days, nearest rank: the ceil(0.9 n)-th smallest."""
        total = sum(self.done_days.values())
        target, seen = (total * 9 + 9) // 10, 0
        for days in sorted(self.done_days):
            seen += self.done_days[days]
            if seen >= target:
                return days
        return None
