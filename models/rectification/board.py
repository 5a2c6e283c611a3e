"""监督看板 queries for 整改: open problems per unit as 🔴🟡🟢 counts, and one unit's problems with history.

The lights are counted in SQL with the same rule as `rules.light`: the working-day thresholds are
turned into two dates first (`light_bounds`), so one grouped query covers any number of problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import table_of
from models.calendar.workdays import WorkCalendar
from models.rectification.rules import last_overdue_deadline
from models.rectification.tables import CLOSED, OPEN_STATUSES, Problem, ProblemEvent
from models.staffing.units import Unit

P = table_of(Problem).c
U = table_of(Unit).c
E = table_of(ProblemEvent).c


@dataclass
class UnitLights:
    unit_id: int
    label: str
    red: int
    yellow: int
    green: int
    frozen_since: date | None

    @property
    def total(self) -> int:
        return self.red + self.yellow + self.green


@dataclass
class ProblemHistory:
    problem: Problem
    events: list[ProblemEvent] = field(default_factory=list)


def light_bounds(cal: WorkCalendar, today: date, yellow_days: int) -> tuple[date, date]:
    """(red_before, green_from): a deadline before `red_before` is 🔴, from `green_from` on 🟢, else 🟡,
    exactly as rules.light decides one problem (a deadline on a rest day is due on the next working day)."""
    red_before = last_overdue_deadline(cal, today) + timedelta(days=1)
    day, count = today, 0  # the yellow_days-th working day after today (today not counted)
    while count < yellow_days:
        day += timedelta(days=1)
        count += cal.is_workday(day)
    return red_before, day + timedelta(days=1)


async def lights_by_unit(session: AsyncSession, red_before: date, green_from: date,
                         unit_id: int | None = None) -> list[UnitLights]:
    """Every unit with open problems (or only `unit_id`), most red first; frozen units carry their date."""
    where: ColumnElement[bool] = P.status.in_(OPEN_STATUSES)
    if unit_id is not None:
        where = and_(where, P.unit_id == unit_id)
    counts = select(
        P.unit_id.label("unit_id"), func.count().label("total"),
        func.sum(case((P.deadline < red_before, 1), else_=0)).label("red"),
        func.sum(case((P.deadline < green_from, 1), else_=0)).label("not_green"),
    ).where(where).group_by(P.unit_id).subquery()
    rows = (await session.exec(select(  # type: ignore[call-overload]
        U.id, U.short_name, U.name, counts.c.total, counts.c.red, counts.c.not_green, U.frozen_since,
    ).join(counts, counts.c.unit_id == U.id))).all()
    out = [UnitLights(uid, short or name, int(red), int(not_green) - int(red), int(total) - int(not_green), frozen)
           for uid, short, name, total, red, not_green, frozen in rows]
    out.sort(key=lambda u: (-u.red, -u.yellow, -u.total, u.label))
    return out


async def unit_problems(session: AsyncSession, unit_id: int, closed_since: datetime,
                        limit: int = 50) -> list[ProblemHistory]:
    """A unit's open problems and those closed since `closed_since`, each with its history."""
    problems = list((await session.exec(select(Problem).where(  # type: ignore[call-overload]
        P.unit_id == unit_id, or_(P.status != CLOSED, P.closed_at >= closed_since),
    ).order_by(case((P.status == CLOSED, 1), else_=0), P.deadline, P.id).limit(limit))).scalars().all())
    by_id = {p.id: ProblemHistory(p) for p in problems}
    if by_id:
        events = (await session.exec(select(ProblemEvent).where(  # type: ignore[call-overload]
            ProblemEvent.problem_id.in_(list(by_id))).order_by(E.id))).scalars().all()  # type: ignore[attr-defined]
        for e in events:
            by_id[e.problem_id].events.append(e)
    return list(by_id.values())
