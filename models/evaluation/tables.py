"""监管评价: indicators, manual and self scores, monthly snapshots, annual tiers, 约谈, 黑名单,
complaints and the 三张清单 of an evaluation round."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import utcnow

CATEGORIES = ("共性", "关联", "个性")
METHODS = ("日常监管", "重点工作监管", "履职考评系统监管", "随机监管")
MANUAL = "人工"
TIERS = ("优秀", "良好", "达标", "不达标")
HIGHLIGHT, SHORTCOMING, RULE_TO_WRITE = "特色亮点", "问题不足", "完善制度"
LISTS = (HIGHLIGHT, SHORTCOMING, RULE_TO_WRITE)


class Indicator(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)  # 指标名称
    category: str = Field(max_length=4)  # CATEGORIES
    method: str = Field(max_length=10)  # METHODS
    full_mark: float
    rule: str = Field(default=MANUAL, max_length=20)  # an automatic rule name (models/evaluation/rules.py) or 人工
    unit_ids: str = Field(default="", max_length=4000)  # comma-separated unit ids; "" = every unit
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ManualScore(SQLModel, table=True):
    """A score given by the office (file or `评分`): replaces the indicator's automatic score too."""

    __table_args__ = (UniqueConstraint("year", "unit_id", "indicator_id"),)

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    indicator_id: int = Field(foreign_key="indicator.id")
    score: float
    basis: str = Field(max_length=500)  # 依据
    given_by: str = Field(default="", max_length=64)
    updated_at: datetime = Field(default_factory=utcnow)


class SelfAssessment(SQLModel, table=True):
    """自评: the unit's own score and account, for 案头审核; files follow within 30 minutes."""

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    score: float
    text: str = Field(max_length=2000)
    account_id: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(default_factory=utcnow)


class SelfAttachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="selfassessment.id", index=True)
    kind: str = Field(max_length=10)
    file_name: str = Field(default="", max_length=200)
    path: str = Field(max_length=500)
    size: int = 0
    sha256: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class ScoreSnapshot(SQLModel, table=True):
    """The ranking published in a 通报 (month 1-12) or the annual result (month 0)."""

    __table_args__ = (UniqueConstraint("year", "month", "unit_id"),)

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    month: int  # 0 = the annual result
    unit_id: int = Field(foreign_key="unit.id", index=True)
    total: float
    rank: int
    tier: str = Field(default="", max_length=4)  # annual only
    last_five: bool = False  # annual only
    created_at: datetime = Field(default_factory=utcnow)


class Interview(SQLModel, table=True):
    """约谈: a task for the office after a bad annual result, reminded until done."""

    __table_args__ = (UniqueConstraint("year", "unit_id"),)

    id: int | None = Field(default=None, primary_key=True)
    year: int
    unit_id: int = Field(foreign_key="unit.id", index=True)
    reason: str = Field(max_length=200)
    done_on: date | None = None
    note: str = Field(default="", max_length=500)
    done_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class Blacklist(SQLModel, table=True):
    """机构编制黑名单: three years in a row in the last five or 不达标."""

    __table_args__ = (UniqueConstraint("year", "unit_id"),)

    id: int | None = Field(default=None, primary_key=True)
    year: int
    unit_id: int = Field(foreign_key="unit.id", index=True)
    reason: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class Complaint(SQLModel, table=True):
    """A 12345 热线 or 信访 row about a unit (`import complaints`)."""

    __table_args__ = (UniqueConstraint("day", "unit_id", "category", "summary"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    category: str = Field(max_length=20)
    summary: str = Field(max_length=500)
    created_at: datetime = Field(default_factory=utcnow)


class EvaluationRound(SQLModel, table=True):
    """An evaluation round (`评估 2027 第一批`), with its 三张清单."""

    __table_args__ = (UniqueConstraint("year", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    year: int
    name: str = Field(max_length=40)
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class RoundItem(SQLModel, table=True):
    """One line of a 清单: a good practice, a problem (→ 整改) or a rule to write (owner, due date)."""

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, max_length=20)  # PG-2027-0001
    round_id: int = Field(foreign_key="evaluationround.id", index=True)
    kind: str = Field(max_length=4)  # LISTS
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    content: str = Field(max_length=2000)
    owner_user_id: str = Field(default="", max_length=64)  # 完善制度: who writes it
    owner_name: str = Field(default="", max_length=50)
    due: date | None = None
    done_on: date | None = None
    problem_id: int | None = Field(default=None, foreign_key="problem.id")  # 问题不足 → 整改
    created_at: datetime = Field(default_factory=utcnow)
