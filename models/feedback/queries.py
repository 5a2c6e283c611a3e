"""Reads for 监督员反馈 and 监督员会议 (the caller's session)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts.tables import Account
from models.feedback.tables import ANSWERED, OPEN, Feedback, Meeting, MeetingReply
from models.rectification.tables import CLOSED, Problem
from models.staffing.units import Unit


async def feedback_by_number(session: AsyncSession, *, number: str) -> Feedback | None:
    return (await session.exec(select(Feedback).where(Feedback.number == number.strip().upper()))).first()


async def account_by_id(session: AsyncSession, *, account_id: int) -> Account | None:
    return await session.get(Account, account_id)


async def supervisor_feedback(session: AsyncSession, *, account_id: int, limit: int = 20) -> list[Feedback]:
    """A supervisor's own reports, newest first."""
    rows = await session.exec(select(Feedback).where(Feedback.supervisor_id == account_id)
                              .order_by(col(Feedback.id).desc()).limit(limit))
    return list(rows.all())


async def open_feedback(session: AsyncSession) -> list[tuple[Feedback, Unit | None]]:
    """Reports still to handle, oldest first, with their unit (None when not given)."""
    rows = await session.exec(select(Feedback, Unit).outerjoin(Unit).where(col(Feedback.status).in_(OPEN))
                              .order_by(col(Feedback.id)))
    return list(rows.all())


async def upcoming_meetings(session: AsyncSession, *, today: date) -> list[tuple[Meeting, int, int]]:
    """Meetings from today on, each with how many attend and how many declined."""
    meetings = (await session.exec(select(Meeting).where(Meeting.day >= today).order_by(col(Meeting.day)))).all()
    counts = {(m, a): n for m, a, n in (await session.exec(
        select(MeetingReply.meeting_id, MeetingReply.attending, func.count())
        .group_by(col(MeetingReply.meeting_id), col(MeetingReply.attending)))).all()}
    return [(m, counts.get((m.id or 0, True), 0), counts.get((m.id or 0, False), 0)) for m in meetings]


async def meeting_to_answer(session: AsyncSession, *, meeting_id: int | None, today: date) -> Meeting | None:
    """The meeting a supervisor answers: the one named, or the next one."""
    query = select(Meeting).where(Meeting.day >= today) if meeting_id is None else select(Meeting).where(
        Meeting.id == meeting_id)
    return (await session.exec(query.order_by(col(Meeting.day)))).first()


@dataclass
class FeedbackStats:
    heard: int
    accepted: int
    answered: int
    to_problems: int
    solved: int
    avg_days: float | None


async def stats(session: AsyncSession, tz_start: datetime, tz_end: datetime,
                supervisor_id: int | None = None) -> FeedbackStats:
    """反馈统计 for feedback filed in [tz_start, tz_end) (aware datetimes), in SQL; optionally one supervisor's."""
    filed: tuple[Any, ...] = (col(Feedback.created_at) >= tz_start, col(Feedback.created_at) < tz_end)
    if supervisor_id is not None:
        filed = (*filed, col(Feedback.supervisor_id) == supervisor_id)
    heard, accepted, answered, to_problems = (await session.exec(select(
        func.count(), func.sum(case((col(Feedback.accepted_at).is_not(None), 1), else_=0)),
        func.sum(case((col(Feedback.status) == ANSWERED, 1), else_=0)),
        func.sum(case((col(Feedback.problem_id).is_not(None), 1), else_=0)),
    ).where(*filed))).one()
    solved, avg = (await session.exec(select(
        func.sum(case((col(Problem.status) == CLOSED, 1), else_=0)), func.avg(Feedback.answered_working_days),
    ).select_from(Feedback).outerjoin(Problem, col(Problem.id) == col(Feedback.problem_id)).where(*filed))).one()
    return FeedbackStats(heard or 0, accepted or 0, answered or 0, to_problems or 0, solved or 0,
                         float(avg) if avg is not None else None)


async def open_reports(session: AsyncSession) -> list[Feedback]:
    """Every report not yet answered or turned into a problem (the overdue reminder filters them)."""
    return list((await session.exec(select(Feedback).where(col(Feedback.status).in_(OPEN)))).all())
