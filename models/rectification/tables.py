"""整改: problems found by inspections, their history, attachments and extension requests."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from models.base import utcnow

SOURCES = ("巡察", "审计", "评估", "专项检查", "监督员反馈", "下沉走访", "预警", "其他")
TODO, IN_PROGRESS, IN_REVIEW, CLOSED = "待整改", "整改中", "待销号审核", "已销号"
STATUSES = (TODO, IN_PROGRESS, IN_REVIEW, CLOSED)
OPEN_STATUSES = (TODO, IN_PROGRESS, IN_REVIEW)


class Problem(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, max_length=40)  # ZG-2026-0001, or the office's own ledger number
    unit_id: int = Field(foreign_key="unit.id", index=True)
    source: str = Field(max_length=10)  # one of SOURCES
    description: str = Field(max_length=2000)
    requirement: str = Field(default="", max_length=2000)
    assigned_on: date
    deadline: date = Field(index=True)
    deadline_provisional: bool = False  # computed past the official calendar data (暂定)
    status: str = Field(default=TODO, max_length=10, index=True)
    revision: int = 0  # bumped when the deadline changes; reminder keys carry it
    origin: str = Field(default="", max_length=60)  # e.g. "warning:12", "feedback:FK-2026-0001"
    created_by: int | None = Field(default=None, foreign_key="account.id")
    closed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ProblemEvent(SQLModel, table=True):
    """One step of a problem's life (交办, 整改报告, 退回, 销号, 延期…): who, when, what."""

    id: int | None = Field(default=None, primary_key=True)
    problem_id: int = Field(foreign_key="problem.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    actor_account_id: int | None = Field(default=None, foreign_key="account.id")
    actor_name: str = Field(default="", max_length=50)
    action: str = Field(max_length=20)
    detail: str = Field(default="", max_length=2000)


class ProblemAttachment(SQLModel, table=True):
    """A photo or file a unit sent with its rectification report, kept on disk."""

    id: int | None = Field(default=None, primary_key=True)
    problem_id: int = Field(foreign_key="problem.id", index=True)
    event_id: int | None = Field(default=None, foreign_key="problemevent.id")
    kind: str = Field(max_length=10)  # picture / file / audio / video
    file_name: str = Field(default="", max_length=200)
    path: str = Field(max_length=500)  # relative to the storage directory
    size: int = 0
    sha256: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class ExtensionRequest(SQLModel, table=True):
    """申请延期: a unit asks for a later deadline; office staff approve or refuse."""

    id: int | None = Field(default=None, primary_key=True)
    problem_id: int = Field(foreign_key="problem.id", index=True)
    requested_deadline: date
    reason: str = Field(max_length=500)
    status: str = Field(default="pending", max_length=10)  # pending / approved / refused
    requested_by: int | None = Field(default=None, foreign_key="account.id")
    decided_by: int | None = Field(default=None, foreign_key="account.id")
    decision_note: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None
