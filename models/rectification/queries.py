"""Reads of the 整改 ledger for the handlers: each takes the caller's session (its transaction)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.rectification.tables import OPEN_STATUSES, Problem, ProblemAttachment, ProblemEvent
from models.staffing.units import Unit

REPORT_ACTION = "整改报告"


async def open_problems_with_units(session: AsyncSession, *,
                                   unit_ids: list[int] | None = None) -> list[tuple[Problem, Unit]]:
    """台账: open problems (of these units, or of all), earliest deadline first."""
    query = select(Problem, Unit).join(Unit).where(col(Problem.status).in_(OPEN_STATUSES))
    if unit_ids is not None:
        query = query.where(col(Problem.unit_id).in_(unit_ids))
    return list((await session.exec(query.order_by(col(Problem.deadline), col(Problem.id)))).all())


async def problems_with_units(session: AsyncSession) -> list[tuple[Problem, Unit]]:
    """Every problem with its unit, by number (导出台账)."""
    return list((await session.exec(select(Problem, Unit).join(Unit).order_by(col(Problem.number)))).all())


async def all_problems(session: AsyncSession) -> list[Problem]:
    return list((await session.exec(select(Problem))).all())


async def latest_report(session: AsyncSession, *, account_id: int,
                        since: datetime) -> tuple[ProblemEvent, Problem] | None:
    """The sender's latest 整改报告 since `since` (its photos and files join it)."""
    row = (await session.exec(
        select(ProblemEvent, Problem).join(Problem)
        .where(ProblemEvent.actor_account_id == account_id, ProblemEvent.action == REPORT_ACTION,
               col(ProblemEvent.at) >= since)
        .order_by(col(ProblemEvent.id).desc()))).first()
    return None if row is None else (row[0], row[1])


async def attachments(session: AsyncSession, *, problem_id: int) -> list[ProblemAttachment]:
    return list((await session.exec(
        select(ProblemAttachment).where(ProblemAttachment.problem_id == problem_id))).all())


async def attachment_count(session: AsyncSession, *, problem_id: int) -> int:
    return (await session.exec(
        select(func.count()).select_from(ProblemAttachment).where(ProblemAttachment.problem_id == problem_id))).one()


OpenRow = tuple[int, str, int, date, int, str, str, bool, str]


async def open_problem_rows(session: AsyncSession) -> list[OpenRow]:
    """The columns of every open problem the daily scan needs (not whole ORM objects: 100,000 of them):
    id, number, unit_id, deadline, revision, status, description, deadline_provisional, unit name."""
    columns: tuple[Any, ...] = (
        Problem.id, Problem.number, Problem.unit_id, Problem.deadline, Problem.revision, Problem.status,
        Problem.description, Problem.deadline_provisional, Unit.name)
    rows = (await session.exec(select(*columns).join(Unit).where(
        col(Problem.status).in_(OPEN_STATUSES)))).all()
    return [tuple(row) for row in rows]
