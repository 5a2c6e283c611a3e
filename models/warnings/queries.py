"""Reads for the 预警 and 编制 answers (the caller's session)."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.rectification.tables import Problem
from models.staffing.persons import Person, Warning
from models.staffing.units import Unit
from models.warnings.rules import on_books


async def unit_by_id(session: AsyncSession, *, unit_id: int) -> Unit | None:
    return await session.get(Unit, unit_id)


async def open_warnings(session: AsyncSession, *, unit_ids: list[int] | None) -> list[tuple[Warning, Unit]]:
    """Open warnings with their unit, worst first; all units when `unit_ids` is None."""
    query = select(Warning, Unit).join(Unit).where(col(Warning.resolved_on).is_(None))
    if unit_ids is not None:
        query = query.where(col(Warning.unit_id).in_(unit_ids))
    rows = await session.exec(query.order_by(col(Warning.level).desc(), col(Warning.unit_id), col(Warning.id)))
    return list(rows.all())


async def staff_counts(session: AsyncSession, *, unit_id: int
                       ) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """People on the books of one unit per 编制类型, and its leaders per (level, rank)."""
    by_type = {t: n for t, n in (await session.exec(
        select(Person.staffing_type, func.count()).where(Person.unit_id == unit_id, on_books())
        .group_by(col(Person.staffing_type)))).all()}
    by_post = {(lv, rk): n for lv, rk, n in (await session.exec(
        select(Person.leader_level, Person.leader_rank, func.count())
        .where(Person.unit_id == unit_id, col(Person.is_leader) == True, on_books())  # noqa: E712
        .group_by(col(Person.leader_level), col(Person.leader_rank)))).all()}
    return by_type, by_post


async def warning_by_number(session: AsyncSession, *, number: str) -> tuple[Warning | None, Problem | None]:
    """The warning with this number, and the problem it became (if any)."""
    warning = (await session.exec(select(Warning).where(Warning.number == number))).first()
    problem = await session.get(Problem, warning.problem_id) if warning and warning.problem_id else None
    return warning, problem
