"""Changes to supervisor feedback, each with its history event and audit row (caller's transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, true
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts.tables import Account
from models.audit import audit
from models.base import LOCAL_TZ, utcnow
from models.feedback.tables import ACCEPTED, ANSWERED, TO_PROBLEM, Feedback, FeedbackEvent
from models.rectification.tables import CLOSED, Problem


async def next_number(session: AsyncSession, year: int) -> str:
    last = (await session.exec(select(func.max(Feedback.number)).where(Feedback.number.like(f"FK-{year}-%")))).one()
    return f"FK-{year}-{int(last.rsplit('-', 1)[1]) + 1 if last else 1:04d}"


def event(session: AsyncSession, fb: Feedback, actor: Account | None, action: str, detail: str = "") -> None:
    session.add(FeedbackEvent(feedback_id=fb.id, actor_account_id=actor.id if actor else None,  # type: ignore[arg-type]
                              action=action, detail=detail[:2000]))
    audit(session, f"feedback.{action}", "feedback", fb.number, detail[:200],
          actor_account_id=actor.id if actor else None, actor_user_id=actor.user_id if actor else "")


async def file_feedback(session: AsyncSession, *, supervisor: Account, category: str, unit_id: int | None,
                        content: str, show_name: bool, at: datetime) -> Feedback:
    year = at.astimezone(LOCAL_TZ).year
    fb = Feedback(number=await next_number(session, year), supervisor_id=supervisor.id,  # type: ignore[arg-type]
                  category=category, unit_id=unit_id, content=content[:4000], show_name=show_name, created_at=at)
    session.add(fb)
    await session.flush()
    event(session, fb, supervisor, "提交")
    return fb


async def accept(session: AsyncSession, fb: Feedback, actor: Account) -> None:
    fb.status, fb.accepted_at = ACCEPTED, utcnow()
    session.add(fb)
    event(session, fb, actor, "受理")


async def answer(session: AsyncSession, fb: Feedback, actor: Account, text: str, working_days: int) -> None:
    fb.status, fb.answer, fb.answered_at, fb.answered_working_days = ANSWERED, text[:2000], utcnow(), working_days
    fb.accepted_at = fb.accepted_at or fb.answered_at
    session.add(fb)
    event(session, fb, actor, "答复", text)


async def to_problem(session: AsyncSession, fb: Feedback, actor: Account, problem: Problem) -> None:
    fb.status, fb.problem_id = TO_PROBLEM, problem.id
    fb.accepted_at = fb.accepted_at or utcnow()
    session.add(fb)
    event(session, fb, actor, "转整改", problem.number)


@dataclass
class FeedbackStats:
    heard: int
    accepted: int
    answered: int
    to_problems: int
    solved: int
    avg_days: float | None


async def stats(session: AsyncSession, start: date, end: date, tz_start, tz_end,  # type: ignore[no-untyped-def]
                supervisor_id: int | None = None) -> FeedbackStats:
    """反馈统计 for feedback filed in [tz_start, tz_end) (aware datetimes), in SQL; optionally one supervisor's."""
    mine = Feedback.supervisor_id == supervisor_id if supervisor_id is not None else true()
    row = (await session.exec(select(
        func.count(), func.sum(case((Feedback.accepted_at.is_not(None), 1), else_=0)),
        func.sum(case((Feedback.status == ANSWERED, 1), else_=0)),
        func.sum(case((Feedback.problem_id.is_not(None), 1), else_=0)),
        func.sum(case((Problem.status == CLOSED, 1), else_=0)), func.avg(Feedback.answered_working_days),
    ).select_from(Feedback).outerjoin(Problem, Problem.id == Feedback.problem_id).where(
        Feedback.created_at >= tz_start, Feedback.created_at < tz_end, mine))).one()
    heard, accepted, answered, to_problems, solved, avg = row
    return FeedbackStats(heard or 0, accepted or 0, answered or 0, to_problems or 0, solved or 0,
                         float(avg) if avg is not None else None)
