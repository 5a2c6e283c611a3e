"""The facts behind each automatic rule: one set-based query per rule for every unit at once
(no per-unit loops), over the period [start, end] (the evaluation year up to the as-of day)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Integer, case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.approvals.tables import RETURNED, ApprovalItem
from models.base import LOCAL_TZ
from models.calendar.workdays import WorkCalendar
from models.feedback.tables import Feedback
from models.rectification.tables import CLOSED, Problem, ProblemEvent
from models.staffing.persons import Warning
from models.staffing.units import Unit
from models.visits.tables import VisitRecord

UnitFacts = dict[int, dict[str, float]]


def _moment(day: date) -> datetime:
    """The start of a Beijing day as aware UTC (timestamps are stored in UTC)."""
    return datetime.combine(day, time(0), LOCAL_TZ).astimezone(UTC)


def _local_day(at: datetime) -> date:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(LOCAL_TZ).date()


async def rectification(session: AsyncSession, start: date, end: date, cal: WorkCalendar) -> UnitFacts:
    out: UnitFacts = defaultdict(dict)
    columns = col(Problem.unit_id), col(Problem.deadline), col(Problem.closed_at), col(Problem.status)
    rows = (await session.exec(select(*columns).where(
        col(Problem.assigned_on) >= start, col(Problem.assigned_on) <= end))).all()
    for unit_id, deadline, closed_at, status in rows:
        facts = out[unit_id]
        facts["assigned"] = facts.get("assigned", 0) + 1
        closed_on = _local_day(closed_at) if status == CLOSED and closed_at is not None else None
        if closed_on is not None and closed_on > end:
            closed_on = None  # closed after the as-of day: still open then
        finish = closed_on or end
        if finish > deadline:
            facts["overdue"] = facts.get("overdue", 0) + 1
            facts["overdue_days"] = facts.get("overdue_days", 0) + cal.workdays_between(deadline, finish)
        elif closed_on is not None:
            facts["on_time"] = facts.get("on_time", 0) + 1
    returned = await session.exec(
        select(col(Problem.unit_id), func.count()).join(ProblemEvent, col(ProblemEvent.problem_id) == Problem.id)
        .where(ProblemEvent.action == "退回", col(ProblemEvent.at) >= _moment(start),
               col(ProblemEvent.at) < _moment(end + timedelta(days=1)))
        .group_by(col(Problem.unit_id)))
    for unit_id, n in returned.all():
        out[unit_id]["returned"] = n
    frozen = await session.exec(select(col(Unit.id), col(Unit.frozen_since)).where(col(Unit.frozen_since).is_not(None)))
    for frozen_id, since in frozen.all():
        if frozen_id is not None and since is not None and since <= end:
            out[frozen_id]["frozen_days"] = (end - max(since, start)).days
    return out


async def warnings(session: AsyncSession, start: date, end: date) -> UnitFacts:
    """Severe warnings open on the as-of day, and for how many days they have been open."""
    out: UnitFacts = defaultdict(dict)
    rows = await session.exec(select(col(Warning.unit_id), col(Warning.first_seen)).where(
        Warning.level == 3, col(Warning.first_seen) <= end,
        (col(Warning.resolved_on).is_(None)) | (col(Warning.resolved_on) > end)))
    for unit_id, first_seen in rows.all():
        facts = out[unit_id]
        facts["severe"] = facts.get("severe", 0) + 1
        facts["severe_days"] = facts.get("severe_days", 0) + (end - first_seen).days
    return out


async def staleness(session: AsyncSession, start: date, end: date) -> UnitFacts:
    out: UnitFacts = {}
    for unit_id, updated in (await session.exec(select(col(Unit.id), col(Unit.data_updated_on)))).all():
        if unit_id is not None:
            out[unit_id] = {"never": 1} if updated is None else {"age_days": max(0, (end - updated).days)}
    return out


async def feedback(session: AsyncSession, start: date, end: date) -> UnitFacts:
    rows = await session.exec(select(
        col(Feedback.unit_id), func.count(col(Feedback.accepted_at)), func.count(col(Feedback.problem_id)),
    ).where(col(Feedback.unit_id).is_not(None), col(Feedback.created_at) >= _moment(start),
            col(Feedback.created_at) < _moment(end + timedelta(days=1))).group_by(col(Feedback.unit_id)))
    return {u: {"accepted": a, "to_problem": p} for u, a, p in rows.all() if u is not None}


async def visits(session: AsyncSession, start: date, end: date) -> UnitFacts:
    rows = await session.exec(select(col(VisitRecord.unit_id), func.count(), func.count(col(VisitRecord.problem_id)))
                              .where(col(VisitRecord.visited_on) >= start, col(VisitRecord.visited_on) <= end)
                              .group_by(col(VisitRecord.unit_id)))
    return {u: {"visits": v, "findings": f} for u, v, f in rows.all()}


async def approvals(session: AsyncSession, start: date, end: date) -> UnitFacts:
    returned = func.sum(case((col(ApprovalItem.status) == RETURNED, 1), else_=0)).cast(Integer)
    rows = await session.exec(select(col(ApprovalItem.unit_id), func.count(), returned).where(
        col(ApprovalItem.submitted_on) >= start, col(ApprovalItem.submitted_on) <= end)
        .group_by(col(ApprovalItem.unit_id)))
    return {u: {"submitted": n, "returned": r or 0} for u, n, r in rows.all()}


async def all_facts(session: AsyncSession, start: date, end: date, cal: WorkCalendar) -> dict[str, UnitFacts]:
    """Facts of every automatic rule, by rule name."""
    result: dict[str, Any] = {
        "整改": await rectification(session, start, end, cal),
        "预警": await warnings(session, start, end),
        "实名制": await staleness(session, start, end),
        "监督员反馈": await feedback(session, start, end),
        "走访": await visits(session, start, end),
        "审批": await approvals(session, start, end),
    }
    return result
