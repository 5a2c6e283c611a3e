"""Changes to supervisor feedback, each with its history event and audit row (caller's transaction)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts.tables import Account
from models.audit import audit
from models.base import LOCAL_TZ, utcnow
from models.feedback.tables import (
    ACCEPTED,
    ANSWERED,
    TO_PROBLEM,
    Feedback,
    FeedbackAttachment,
    FeedbackEvent,
    Meeting,
    MeetingReply,
)
from models.rectification.tables import Problem


async def next_number(session: AsyncSession, year: int) -> str:
    last = (await session.exec(select(func.max(Feedback.number)).where(
        col(Feedback.number).like(f"FK-{year}-%")))).one()
    return f"FK-{year}-{int(last.rsplit('-', 1)[1]) + 1 if last else 1:04d}"


def event(session: AsyncSession, fb: Feedback, actor: Account | None, action: str, detail: str = "") -> None:
    assert fb.id is not None
    session.add(FeedbackEvent(feedback_id=fb.id, actor_account_id=actor.id if actor else None,
                              action=action, detail=detail[:2000]))
    audit(session, f"feedback.{action}", "feedback", fb.number, detail[:200],
          actor_account_id=actor.id if actor else None, actor_user_id=actor.user_id if actor else "")


async def file_feedback(session: AsyncSession, *, supervisor: Account, category: str, unit_id: int | None,
                        content: str, show_name: bool, at: datetime,
                        files: list[dict[str, Any]] | None = None) -> Feedback:
    """A new report with its attachments (kind, file_name, path, size, sha256 per file)."""
    assert supervisor.id is not None
    year = at.astimezone(LOCAL_TZ).year
    fb = Feedback(number=await next_number(session, year), supervisor_id=supervisor.id,
                  category=category, unit_id=unit_id, content=content[:4000], show_name=show_name, created_at=at)
    session.add(fb)
    await session.flush()
    event(session, fb, supervisor, "提交")
    assert fb.id is not None
    for f in files or []:
        session.add(FeedbackAttachment(feedback_id=fb.id, **f))
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


async def create_meeting(session: AsyncSession, *, day: date, place: str, actor: Account | None) -> Meeting:
    meeting = Meeting(day=day, place=place, created_by=actor.id if actor else None)
    session.add(meeting)
    await session.flush()
    audit(session, "meeting.通知", "meeting", meeting.id, f"{day} {place}"[:200],
          actor_account_id=actor.id if actor else None, actor_user_id=actor.user_id if actor else "")
    return meeting


async def reply_meeting(session: AsyncSession, *, meeting: Meeting, account: Account, attending: bool) -> None:
    """参加 or 请假: one answer per supervisor and meeting, the latest wins."""
    assert meeting.id is not None and account.id is not None
    row = (await session.exec(select(MeetingReply).where(
        MeetingReply.meeting_id == meeting.id, MeetingReply.account_id == account.id))).first()
    row = row or MeetingReply(meeting_id=meeting.id, account_id=account.id, attending=attending)
    row.attending = attending
    session.add(row)
    audit(session, "meeting.回复", "meeting", meeting.id, "参加" if attending else "请假",
          actor_account_id=account.id, actor_user_id=account.user_id)
