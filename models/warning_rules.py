"""预警 rules over the 实名制 snapshot, as set-based SQL: each rule is one query (aggregates and joins)
that returns findings; nothing loops over people in Python. Definitions: shared/docs/domain.md (预警)
and domain-facts.md §3; every threshold is a setting (`[warnings]`).

Levels: 1 提示, 2 关注, 3 严重. The establishment rule rises 临界 (1) → 满编 (2) → 超编 (3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.staffing import Person
from models.units import Unit

P = Person.__table__.c  # type: ignore[attr-defined]
U = Unit.__table__.c  # type: ignore[attr-defined]

EST_COLUMNS = {"行政编制": U.est_admin, "政法专项编制": U.est_legal, "事业编制": U.est_public, "工勤编制": U.est_worker}
POST_COLUMNS = {
    ("单位领导", "正职"): U.posts_unit_chief, ("单位领导", "副职"): U.posts_unit_deputy,
    ("内设机构领导", "正职"): U.posts_dept_chief, ("内设机构领导", "副职"): U.posts_dept_deputy,
}
EST_LABELS = {1: "临界", 2: "满编", 3: "超编"}
RULE_LABELS = {"编制": "编制", "超职数": "超职数", "混岗": "混岗", "超龄未退": "超龄未退", "临退": "临退",
               "一人多岗": "一人多岗", "数据陈旧": "数据陈旧"}


@dataclass(frozen=True)
class WarningSettings:
    critical_ratio: float = 0.95  # 临界 at this share of the approved establishment
    retire_soon_months: int = 6  # 临退 within this many months
    stale_days: int = 90  # a unit whose data is older than this is 数据陈旧
    elsewhere_months: int = 6  # working in another unit this long is 混岗


@dataclass(frozen=True)
class Finding:
    unit_id: int
    rule: str
    subject: str
    level: int
    evidence: str  # JSON

    @property
    def label(self) -> str:
        return EST_LABELS[self.level] if self.rule == "编制" else self.rule


def _months_later(day: date, months: int) -> date:
    y, m = divmod(day.month - 1 + months, 12)
    return date(day.year + y, m + 1, 1)


def _ev(**kw: Any) -> str:
    return json.dumps(kw, ensure_ascii=False, default=str)


def _in_scope(column: Any, unit_ids: list[int] | None) -> Any:
    return literal(True) if unit_ids is None else column.in_(unit_ids)


async def find_all(session: AsyncSession, today: date, settings: WarningSettings,
                   unit_ids: list[int] | None = None) -> list[Finding]:
    """Every finding in scope (all units, or only `unit_ids` after an import)."""
    out: list[Finding] = []
    for rule in (_establishment, _leader_posts, _mixed_posts, _retirement, _same_person, _stale):
        out += await rule(session, today, settings, unit_ids)
    return out


async def _establishment(session: AsyncSession, today: date, s: WarningSettings, scope: list[int] | None,
                         ) -> list[Finding]:
    counts = select(P.unit_id, P.staffing_type, func.count().label("n")).where(
        _in_scope(P.unit_id, scope)).group_by(P.unit_id, P.staffing_type).subquery()
    out = []
    for type_, column in EST_COLUMNS.items():
        query = select(counts.c.unit_id, counts.c.n, column).join(Unit, U.id == counts.c.unit_id).where(
            counts.c.staffing_type == type_,
            or_(counts.c.n > column, and_(column > 0, counts.c.n >= column * s.critical_ratio)))
        rows = (await session.exec(query)).all()  # type: ignore[call-overload]
        for unit_id, actual, approved in rows:
            level = 3 if actual > approved else 2 if actual == approved else 1
            out.append(Finding(unit_id, "编制", type_, level, _ev(核定=approved, 实有=actual)))
    return out


async def _leader_posts(session: AsyncSession, today: date, s: WarningSettings, scope: list[int] | None,
                        ) -> list[Finding]:
    counts = select(P.unit_id, P.leader_level, P.leader_rank, func.count().label("n")).where(
        P.is_leader == True, _in_scope(P.unit_id, scope)).group_by(  # noqa: E712
        P.unit_id, P.leader_level, P.leader_rank).subquery()
    out = []
    for (level_, rank), column in POST_COLUMNS.items():
        rows = (await session.exec(select(counts.c.unit_id, counts.c.n, column).join(  # type: ignore[call-overload]
            Unit, U.id == counts.c.unit_id).where(counts.c.leader_level == level_, counts.c.leader_rank == rank,
                                                  counts.c.n > column))).all()
        out += [Finding(u, "超职数", f"{level_}{rank}", 3, _ev(核定=c, 实配=n)) for u, n, c in rows]
    return out


async def _mixed_posts(session: AsyncSession, today: date, s: WarningSettings, scope: list[int] | None,
                       ) -> list[Finding]:
    long_ago = today - timedelta(days=round(s.elsewhere_months * 30.4))
    reason = case(
        (and_(func.substr(U.uscc, 1, 2) == "11", P.staffing_type == "事业编制", U.is_cangong == False),  # noqa: E712
         "机关使用事业编制人员"),
        (and_(func.substr(U.uscc, 1, 2) == "12", P.staffing_type.in_(("行政编制", "政法专项编制")),
              U.is_cangong == False), "事业单位使用行政/政法编制"),  # noqa: E712
        (and_(P.staffing_type == "工勤编制", P.is_leader == True), "工勤编制人员担任领导职务"),  # noqa: E712
        (and_(P.work_unit_id.is_not(None), P.work_unit_id != P.unit_id, P.work_elsewhere_since <= long_ago),
         "长期在其他单位工作"),
        else_=None,
    ).label("reason")
    people = select(P.unit_id, P.id_number, P.name, P.staffing_type, P.post, reason).join(
        Unit, U.id == P.unit_id).where(_in_scope(P.unit_id, scope)).subquery()
    rows = (await session.exec(select(people).where(people.c.reason.is_not(None)))).all()  # type: ignore[call-overload]
    return [Finding(u, "混岗", idn, 2, _ev(姓名=name, 身份证号=idn, 编制类型=t, 职务=post, 情形=why))
            for u, idn, name, t, post, why in rows]


async def _retirement(session: AsyncSession, today: date, s: WarningSettings, scope: list[int] | None,
                      ) -> list[Finding]:
    month = today.replace(day=1)
    soon = _months_later(month, s.retire_soon_months)
    flexible_ok = and_(P.flexible_until.is_not(None), P.flexible_until >= today)
    rows = (await session.exec(select(  # type: ignore[call-overload]
        P.unit_id, P.id_number, P.name, P.retirement_month, P.flexible_until,
    ).where(_in_scope(P.unit_id, scope), P.retirement_month.is_not(None), or_(
        and_(P.retirement_month < month, ~flexible_ok), and_(P.retirement_month >= month, P.retirement_month < soon)),
    ))).all()
    out = []
    for unit_id, idn, name, retire, flexible in rows:
        rule, level = ("超龄未退", 3) if retire < month else ("临退", 1)
        out.append(Finding(unit_id, rule, idn, level, _ev(姓名=name, 身份证号=idn, 退休年月=retire.strftime("%Y-%m"),
                                                          弹性延迟至=flexible)))
    return out


async def _same_person(session: AsyncSession, today: date, s: WarningSettings, scope: list[int] | None,
                       ) -> list[Finding]:
    ids = select(P.id_number).where(_in_scope(P.unit_id, scope))  # only the people of the scanned units
    dup = select(P.id_number).where(P.id_number.in_(ids)).group_by(P.id_number).having(
        func.count(func.distinct(P.unit_id)) > 1).subquery()
    rows = (await session.exec(select(P.unit_id, P.id_number, P.name).where(  # type: ignore[call-overload]
        P.id_number.in_(select(dup.c.id_number)), _in_scope(P.unit_id, scope)))).all()
    return [Finding(u, "一人多岗", idn, 2, _ev(姓名=name, 身份证号=idn)) for u, idn, name in rows]


async def _stale(session: AsyncSession, today: date, s: WarningSettings, scope: list[int] | None,
                 ) -> list[Finding]:
    latest = select(P.unit_id, func.max(P.imported_at).label("at")).where(_in_scope(P.unit_id, scope)).group_by(
        P.unit_id).subquery()
    limit = today - timedelta(days=s.stale_days)
    rows = (await session.exec(select(U.id, U.data_updated_on, latest.c.at).outerjoin(  # type: ignore[call-overload]
        latest, latest.c.unit_id == U.id).where(_in_scope(U.id, scope)))).all()
    out = []
    for unit_id, updated_on, imported_at in rows:
        last = max(d for d in (updated_on, imported_at.date() if imported_at else None, date.min) if d)
        if last < limit and last != date.min:
            out.append(Finding(unit_id, "数据陈旧", "", 1, _ev(最近更新=last)))
    return out
