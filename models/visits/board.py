"""监督看板 queries for 下沉式走访: this year's coverage per group and month (planned / done / late)
and the units not yet visited. At most one planned visit per unit a year, so a few thousand rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import table_of
from models.staffing.units import Unit
from models.visits.queries import current_plan
from models.visits.tables import PlannedVisit, VisitGroup, VisitRecord

U = table_of(Unit).c
G = table_of(VisitGroup).c
V = table_of(PlannedVisit).c
R = table_of(VisitRecord).c


@dataclass
class Cell:
    planned: int = 0
    done: int = 0
    late: int = 0  # planned for a past month and not visited


@dataclass
class Coverage:
    year: int
    has_plan: bool
    units: int  # all units
    visited: int  # units with a visit record this year
    groups: list[str] = field(default_factory=list)
    cells: dict[str, dict[int, Cell]] = field(default_factory=dict)  # group → month → cell
    not_visited: list[tuple[str, str, int]] = field(default_factory=list)  # unit, group, month (planned)
    not_visited_total: int = 0


async def coverage(session: AsyncSession, today: date, limit: int = 20) -> Coverage:
    year_start = date(today.year, 1, 1)
    units = {uid: short or name for uid, short, name in (await session.exec(  # type: ignore[call-overload]
        select(U.id, U.short_name, U.name))).all()}
    done = {uid for (uid,) in (await session.exec(select(R.unit_id).where(  # type: ignore[call-overload]
        R.visited_on >= year_start, R.visited_on <= today))).all()}
    plan = await current_plan(session, today.year)
    cov = Coverage(today.year, plan is not None, len(units), len(done & set(units)))
    if plan is None:
        return cov
    groups = {gid: name for gid, name in (await session.exec(  # type: ignore[call-overload]
        select(G.id, G.name).order_by(G.id))).all()}
    visits = (await session.exec(select(V.unit_id, V.group_id, V.month)  # type: ignore[call-overload]
                                 .where(V.plan_id == plan.id).order_by(V.month, V.unit_id))).all()
    planned_groups = {group_id for _unit, group_id, _month in visits}
    cov.groups = [name for gid, name in groups.items() if gid in planned_groups]
    cov.cells = {name: {m: Cell() for m in range(1, 13)} for name in cov.groups}
    missing = []
    for unit_id, group_id, month in visits:
        cell = cov.cells[groups[group_id]][month]
        cell.planned += 1
        if unit_id in done:
            cell.done += 1
        else:
            cell.late += month < today.month
            missing.append((units.get(unit_id, "?"), groups[group_id], month))
    cov.not_visited_total = len(missing)
    cov.not_visited = missing[:limit]
    return cov
