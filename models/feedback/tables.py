"""监督员反馈: supervisors' reports, their history and attachments, and supervisor meetings."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import utcnow

CATEGORIES = ("违反机构编制纪律", "职责交叉或缺位", "意见建议", "其他")
SUBMITTED, ACCEPTED, ANSWERED, TO_PROBLEM = "已提交", "已受理", "已办结", "已转整改"
OPEN = (SUBMITTED, ACCEPTED)


class Feedback(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, max_length=20)  # FK-2026-0001
    supervisor_id: int = Field(foreign_key="account.id", index=True)
    category: str = Field(max_length=20)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    content: str = Field(max_length=4000)
    show_name: bool = False  # may the unit see who filed it? (default: never)
    status: str = Field(default=SUBMITTED, max_length=10, index=True)
    answer: str = Field(default="", max_length=2000)
    problem_id: int | None = Field(default=None, foreign_key="problem.id")
    created_at: datetime = Field(default_factory=utcnow)
    accepted_at: datetime | None = None
    answered_at: datetime | None = None
    answered_working_days: int | None = None


class FeedbackEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    feedback_id: int = Field(foreign_key="feedback.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    actor_account_id: int | None = Field(default=None, foreign_key="account.id")
    action: str = Field(max_length=10)  # 提交 / 受理 / 答复 / 转整改 / 销号
    detail: str = Field(default="", max_length=2000)


class FeedbackAttachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    feedback_id: int = Field(foreign_key="feedback.id", index=True)
    kind: str = Field(max_length=10)
    file_name: str = Field(default="", max_length=200)
    path: str = Field(max_length=500)
    size: int = 0
    sha256: str = Field(default="", max_length=64)


class Meeting(SQLModel, table=True):
    """A supervisor meeting (default quarterly), announced to every supervisor."""

    id: int | None = Field(default=None, primary_key=True)
    day: date
    place: str = Field(default="", max_length=200)
    created_by: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(default_factory=utcnow)


class MeetingReply(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("meeting_id", "account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id")
    account_id: int = Field(foreign_key="account.id")
    attending: bool
    at: datetime = Field(default_factory=utcnow)
