"""下沉式走访: visit groups, the annual roster (plans and planned visits), visit records, the 三定
跟踪问效 five-year plan and the auditable 双随机 draws."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import utcnow


class VisitGroup(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=50)  # 组名
    leader_user_id: str = Field(max_length=64)  # 组长 (DingTalk userId)
    member_user_ids: str = Field(default="", max_length=2000)  # comma-separated userIds
    blocked_months: str = Field(default="", max_length=40)  # comma-separated 1-12
    avoid_unit_ids: str = Field(default="", max_length=2000)  # comma-separated unit ids (回避)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class RosterPlan(SQLModel, table=True):
    """One planning run for a year; the newest `current` plan is the one in force."""

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    current: bool = True
    from_month: int = 1  # a re-plan keeps the visits before this month
    objective: int = 0
    bound: int = 0
    optimal: bool = False
    seconds: float = 0.0
    report: str = Field(default="{}", max_length=8000)  # JSON: soft-goal figures, what was impossible
    created_by: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(default_factory=utcnow)


class PlannedVisit(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("plan_id", "unit_id"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="rosterplan.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    group_id: int = Field(foreign_key="visitgroup.id", index=True)
    month: int
    scheduled_on: date | None = None  # set by the group: 走访安排 <单位> <日期>


class VisitRecord(SQLModel, table=True):
    """走访记录: the visit as it happened."""

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    group_id: int | None = Field(default=None, foreign_key="visitgroup.id")
    visited_on: date = Field(index=True)
    who: str = Field(default="", max_length=500)  # names of those who went
    findings: str = Field(default="", max_length=4000)
    problem_id: int | None = Field(default=None, foreign_key="problem.id")
    recorded_by: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(default_factory=utcnow)


class SandingPlan(SQLModel, table=True):
    """三定规定跟踪问效: each unit in exactly one year of a five-year cycle."""

    __table_args__ = (UniqueConstraint("cycle_start", "unit_id"),)

    id: int | None = Field(default=None, primary_key=True)
    cycle_start: int  # first year of the cycle, e.g. 2027 for 2027-2031
    unit_id: int = Field(foreign_key="unit.id")
    year: int
    done_on: date | None = None


class RandomDraw(SQLModel, table=True):
    """双随机抽查: a recorded seed makes the draw re-checkable by anyone (摇号)."""

    id: int | None = Field(default=None, primary_key=True)
    seed: str = Field(max_length=64)
    units_wanted: int
    inspectors_wanted: int
    unit_pool: str = Field(max_length=8000)  # JSON list of unit ids, in the order drawn from
    inspector_pool: str = Field(max_length=4000)  # JSON list of userIds
    units: str = Field(max_length=4000)  # JSON result
    inspectors: str = Field(max_length=2000)  # JSON result
    drawn_by: int | None = Field(default=None, foreign_key="account.id")
    drawn_at: datetime = Field(default_factory=utcnow)


class VisitAttachment(SQLModel, table=True):
    """A photo or file sent with a visit record (走访记录 … then the photos, in single chat)."""

    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="visitrecord.id", index=True)
    kind: str = Field(max_length=10)
    file_name: str = Field(default="", max_length=200)
    path: str = Field(max_length=500)
    size: int = 0
    sha256: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
