"""预警: the 实名制 snapshot (persons) and the warnings found in it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import utcnow

STAFFING_TYPES = ("行政编制", "政法专项编制", "事业编制", "工勤编制")
LEADER_LEVELS = ("单位领导", "内设机构领导")
LEADER_RANKS = ("正职", "副职")
# 人员状态 (docs/import-formats.md). Only people still on the books occupy 编制 and are checked by the 预警 rules.
ON_BOOKS_STATUSES = ("在编在岗", "在职", "借调", "挂职", "援派", "离岗创业", "长期病休", "停薪留职")
OFF_BOOKS_STATUSES = ("退休", "离休", "离退", "去世", "调出", "辞职", "辞退", "解聘", "开除", "历史")
KNOWN_STATUSES = ON_BOOKS_STATUSES + OFF_BOOKS_STATUSES


class Person(SQLModel, table=True):
    """One person of a unit's 实名制 snapshot. A file replaces the snapshot of every unit it names."""

    __table_args__ = (
        # (unit_id, id_number) also serves lookups by unit; ix_person_id_number_books those by 身份证号
        UniqueConstraint("unit_id", "id_number"),
        # covering indexes of the 预警 scan (models/warnings/rules.py): the per-unit counts, 一人多岗
        Index("ix_person_unit_counts", "unit_id", "staffing_type", "is_leader", "leader_level", "leader_rank",
              "status", "imported_at"),
        Index("ix_person_id_number_books", "id_number", "status", "unit_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    id_number: str = Field(max_length=18)  # 身份证号 (GB 11643), upper case
    name: str = Field(max_length=50)
    sex: str = Field(max_length=1)  # 男 / 女
    birth_date: date
    unit_id: int = Field(foreign_key="unit.id")  # 所在单位 (whose 编制 the person occupies)
    work_unit_id: int | None = Field(default=None, foreign_key="unit.id")  # 实际工作单位, when different
    work_elsewhere_since: date | None = None  # 借调/挂职开始日期, else the first snapshot with 实际工作单位 ≠ 所在单位
    work_since_stated: bool = False  # True when work_elsewhere_since came from the 借调/挂职开始日期 column
    staffing_type: str = Field(max_length=10)  # one of STAFFING_TYPES
    category: str = Field(default="", max_length=10)  # 人员类别: 公务员/参公/事业管理/专业技术/工勤
    identity: str = Field(default="", max_length=4)  # 身份: 干部 / 工人
    post: str = Field(default="", max_length=100)  # 职务名称
    is_leader: bool = False
    leader_level: str = Field(default="", max_length=10)  # LEADER_LEVELS
    leader_rank: str = Field(default="", max_length=4)  # LEADER_RANKS
    status: str = Field(default="在编在岗", max_length=20)  # 人员状态: ON_BOOKS_STATUSES or OFF_BOOKS_STATUSES
    retire_category: str = Field(default="", max_length=10)  # override: 男/女干部/女工人/女处级60/其他
    flexible_until: date | None = None  # 弹性延迟退休至
    retirement_month: date | None = Field(default=None, index=True)  # first day of the statutory month
    note: str = Field(default="", max_length=200)
    imported_at: datetime = Field(default_factory=utcnow)


class Warning(SQLModel, table=True):
    """A pre-warning: pushed when new or worse, marked resolved when it clears."""

    __table_args__ = (Index("ix_warning_open", "unit_id", "rule", "subject", "resolved_on"),)

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, max_length=20)  # YJ-2026-0001
    unit_id: int = Field(foreign_key="unit.id", index=True)
    rule: str = Field(max_length=10)  # 超编/满编/临界/空编/超职数/混岗/超龄未退/临退/一人多岗/数据陈旧
    subject: str = Field(default="", max_length=60)  # 编制类型, 职数层级, or the person's 身份证号
    level: int = 1  # 1 提示, 2 关注, 3 严重 — pushed when it rises
    evidence: str = Field(default="{}", max_length=2000)  # JSON: the numbers or the person
    first_seen: date
    last_seen: date
    resolved_on: date | None = None
    notified_level: int = 0  # the highest level already pushed
    problem_id: int | None = Field(default=None, foreign_key="problem.id")  # 转整改
