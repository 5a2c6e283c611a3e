"""Units (单位): the bodies whose establishment the office supervises."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from models.base import utcnow

UNIT_KINDS = ("党政机关", "事业单位", "群团机关")
STAFFING_TYPES = ("行政编制", "政法专项编制", "事业编制", "工勤编制")
# The kind a 统一社会信用代码's first two characters imply (GB 32100: 11 机关, 12 事业单位, 13 群团).
USCC_KINDS = {"11": "党政机关", "12": "事业单位", "13": "群团机关"}


class Unit(SQLModel, table=True):
    """Establishment and post figures are None when the units file left them blank (数据不全), not 0."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=100)
    short_name: str = Field(default="", index=True, max_length=50)
    uscc: str = Field(unique=True, max_length=18)  # 统一社会信用代码
    kind: str = Field(max_length=10)  # one of UNIT_KINDS
    is_cangong: bool = False  # 参公
    supervisor_name: str = Field(default="", max_length=100)  # 主管部门
    town: str = Field(default="", max_length=50)  # 所在乡镇/街道
    est_admin: int | None = None  # 行政编制
    est_legal: int | None = None  # 政法专项编制
    est_public: int | None = None  # 事业编制
    est_worker: int | None = None  # 工勤编制
    posts_unit_chief: int | None = None  # 单位领导正职职数
    posts_unit_deputy: int | None = None  # 单位领导副职职数
    posts_dept_chief: int | None = None  # 内设机构领导正职职数
    posts_dept_deputy: int | None = None  # 内设机构领导副职职数
    data_updated_on: date | None = None  # 更新日期 (实名制 data)
    frozen_since: date | None = None  # set while a problem is long overdue (冻结, seed 001)
    visit_exempt: bool = False  # 不纳入走访抽查: never planned for a visit, 三定问效 or a random draw
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def label(self) -> str:
        return self.short_name or self.name
