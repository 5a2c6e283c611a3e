"""审批: approval items (用编核准, 人员上编 …), their stage history (全程纪实) and notification opt-outs."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from models.base import utcnow

DAILY_TYPES = ("机构修改", "用编核准", "人员上编", "人员下编", "人员异动", "人员修改")
MAJOR_TYPES = ("设立机构", "划转职能", "增加编制", "用编计划")
TYPES = (*DAILY_TYPES, *MAJOR_TYPES, "其他")
MAJOR_STAGES = ("动议", "衔接", "呈报", "论证及审议决定", "组织实施", "工作评估")
IN_PROGRESS, DONE, RETURNED, WITHDRAWN = "办理中", "已办结", "已退回", "已撤回"
STATUSES = (IN_PROGRESS, DONE, RETURNED, WITHDRAWN)


class ApprovalItem(SQLModel, table=True):
    __table_args__ = (
        # 办结率 (models/approvals/stats.py): one covering scan in group order, and the slowest items
        Index("ix_approvalitem_stats", "type", "status", "working_days", "submitted_on"),
        Index("ix_approvalitem_slowest", "status", "working_days", "number", "submitted_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, max_length=64)  # 事项编号 (the platform's, or the OA instance id)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    type: str = Field(max_length=10, index=True)  # one of TYPES
    title: str = Field(default="", max_length=200)
    submitted_at: datetime
    submitted_on: date = Field(index=True)  # Beijing date of submission (for 当日办结率 in SQL)
    stage: str = Field(max_length=40)  # 当前环节
    stage_since: datetime  # when the current stage began (催办 counts from here)
    handler_user_id: str = Field(default="", max_length=64)  # DingTalk userId of the current handler
    handler_name: str = Field(default="", max_length=50)
    status: str = Field(default=IN_PROGRESS, max_length=10, index=True)
    completed_at: datetime | None = None
    completed_on: date | None = None  # Beijing date
    working_days: int | None = None  # working days from submission to completion (set when completed)
    source: str = Field(default="", max_length=10)  # file / api / oa
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ApprovalEvent(SQLModel, table=True):
    """A step of the 全程纪实: a stage change, a status change, or a note recorded by office staff."""

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="approvalitem.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    kind: str = Field(max_length=10)  # 提交 / 环节 / 状态 / 纪实 / 催办
    stage: str = Field(default="", max_length=40)
    status: str = Field(default="", max_length=10)
    handler_name: str = Field(default="", max_length=50)
    detail: str = Field(default="", max_length=2000)
    source: str = Field(default="", max_length=10)
    actor_account_id: int | None = Field(default=None, foreign_key="account.id")


class ApprovalOptOut(SQLModel, table=True):
    """退订审批通知: an account that does not want stage-change messages."""

    account_id: int = Field(foreign_key="account.id", primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)


class ProcessedEvent(SQLModel, table=True):
    """DingTalk event ids already handled (OA events are redelivered; each is processed once)."""

    event_id: str = Field(primary_key=True, max_length=128)
    event_type: str = Field(default="", max_length=60)
    received_at: datetime = Field(default_factory=utcnow)
