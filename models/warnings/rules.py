"""预警 rules over the 实名制 snapshot, as set-based SQL: nothing loops over people in Python. 编制, 超职数 and
数据陈旧 share one grouped pass over the persons (`unit_facts`, one row per unit and counted combination,
read from the covering index ix_person_unit_counts); the person rules are one query each and return only
the people found. Definitions: docs/rules.md (预警) and docs/import-formats.md; every threshold is a
setting (`[warnings]`).

Levels: 1 提示, 2 关注, 3 严重. The establishment rule rises 临界 (1) → 满编 (2) → 超编 (3).
Only people on the books count (人员状态, models.staffing.persons); a figure left blank in the units file
(None) is not checked but reported once per unit as 数据不全; 单位类别 decides the kind of unit; one
cause gives one finding (`_one_cause`). Every rule is stated for offices in docs/rules.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, case, func, literal, or_, select, type_coerce
from sqlmodel.ext.asyncio.session import AsyncSession

from models.staffing.persons import OFF_BOOKS_STATUSES, Person
from models.staffing.units import Unit

P = Person.__table__.c  # type: ignore[attr-defined]
U = Unit.__table__.c  # type: ignore[attr-defined]

EST_COLUMNS = {"行政编制": U.est_admin, "政法专项编制": U.est_legal, "事业编制": U.est_public, "工勤编制": U.est_worker}
POST_COLUMNS = {
    ("单位领导", "正职"): U.posts_unit_chief, ("单位领导", "副职"): U.posts_unit_deputy,
    ("内设机构领导", "正职"): U.posts_dept_chief, ("内设机构领导", "副职"): U.posts_dept_deputy,
}
EST_LABELS = {1: "临界", 2: "满编", 3: "超编"}
RULE_LABELS = {"编制": "编制", "超职数": "超职数", "混岗": "混岗", "超龄未退": "超龄未退", "临退": "临退",
               "一人多岗": "一人多岗", "数据陈旧": "数据陈旧", "数据不全": "数据不全", "口径不一致": "口径不一致"}


@dataclass(frozen=True)
class WarningSettings:
    critical_ratio: float = 0.95  # 临界 at this share of the approved establishment
    retire_soon_months: int = 6  # 临退: retiring this month or within the next this-many months
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


@dataclass
class UnitFacts:
    """One unit's figures from the units file and its people, aggregated in one pass over the persons."""

    cangong: bool = False
    approved: dict[str, int | None] = field(default_factory=dict)  # 编制类型 → 核定数 (None: not entered)
    posts: dict[tuple[str, str], int | None] = field(default_factory=dict)  # (层级, 正副) → 职数
    updated_on: date | None = None  # 数据更新日期 from the units file
    staff: dict[str, int] = field(default_factory=dict)  # people on the books per 编制类型 (only n > 0)
    leaders: dict[tuple[str, str], int] = field(default_factory=dict)  # leaders on the books per post
    imported_at: datetime | None = None  # the latest import of anyone of the unit
    latest: Any = None  # imported_at as the database returns it


async def unit_facts(session: AsyncSession, scope: list[int] | None) -> dict[int, UnitFacts]:
    """Every unit in scope, by id: its approved figures and the counts of its people. The persons are
    read once, grouped by unit and the few columns the rules count (never one row per person)."""
    units = (await session.exec(select(  # type: ignore[call-overload]
        U.id, U.is_cangong, U.data_updated_on, *EST_COLUMNS.values(), *POST_COLUMNS.values(),
    ).where(_in_scope(U.id, scope)).order_by(U.id))).all()
    facts: dict[int, UnitFacts] = {}
    n_est = len(EST_COLUMNS)
    for unit_id, cangong, updated_on, *figures in units:
        facts[unit_id] = UnitFacts(bool(cangong), dict(zip(EST_COLUMNS, figures[:n_est], strict=True)),
                                   dict(zip(POST_COLUMNS, figures[n_est:], strict=True)), updated_on)
    groups = (P.unit_id, P.staffing_type, P.is_leader, P.leader_level, P.leader_rank, P.status)  # ix_person_unit_counts
    rows = (await session.exec(select(  # type: ignore[call-overload]
        *groups, func.count(), type_coerce(func.max(P.imported_at), String),  # parsed once per unit, below
    ).where(_in_scope(P.unit_id, scope)).group_by(*groups))).all()
    for unit_id, type_, leader, level, rank, status, n, latest in rows:
        unit = facts.get(unit_id)
        if unit is None:
            continue
        if latest is not None and (unit.latest is None or latest > unit.latest):
            unit.latest = latest
        if status in OFF_BOOKS_STATUSES:
            continue
        unit.staff[type_] = unit.staff.get(type_, 0) + n
        if leader:
            unit.leaders[level, rank] = unit.leaders.get((level, rank), 0) + n
    for unit in facts.values():  # SQLite gives the stored text, PostgreSQL a datetime
        latest = unit.latest
        unit.imported_at = datetime.fromisoformat(latest) if isinstance(latest, str) else latest
    return facts


async def find_all(session: AsyncSession, today: date, settings: WarningSettings,
                   unit_ids: list[int] | None = None) -> list[Finding]:
    """Every finding in scope (all units, or only `unit_ids` after an import)."""
    facts = await unit_facts(session, unit_ids)
    out = _establishment(facts, settings) + _leader_posts(facts)
    for rule in (_mixed_posts, _retirement, _same_person):
        out += await rule(session, today, settings, unit_ids)
    out += _stale(facts, today, settings)
    return _merge_missing(_one_cause(out))


MISMATCH = ("机关使用事业编制人员", "群团机关使用事业编制人员", "事业单位使用行政/政法编制",
            "参公单位使用行政/政法编制")  # 混岗 because the 编制类型 does not fit the unit


def _one_cause(findings: list[Finding]) -> list[Finding]:
    """One person, one finding: when a unit has no approved figure (0 or not entered) for a 编制类型 and
    every person it counts of that type is 混岗 because the type does not fit the unit, the 超编 or
    数据不全 finding for that type has the same cause. It is dropped and each 混岗 finding says so."""
    mismatched: dict[tuple[int, str], list[int]] = {}
    for i, f in enumerate(findings):
        if f.rule == "混岗":
            ev = json.loads(f.evidence)
            if ev.get("情形") in MISMATCH:
                mismatched.setdefault((f.unit_id, ev["编制类型"]), []).append(i)
    drop: set[int] = set()
    notes: dict[int, str] = {}
    for i, f in enumerate(findings):
        if f.rule not in ("编制", "数据不全") or not f.subject:
            continue
        ev = json.loads(f.evidence)
        type_ = f.subject if f.rule == "编制" else ev.get("编制类型", "")
        people = mismatched.get((f.unit_id, type_), [])
        approved = ev.get("核定")
        if not people or approved not in (0, None) or ev.get("实有") != len(people):
            continue
        drop.add(i)
        shown, other = ("未填", "数据不全") if approved is None else (approved, "超编")
        for j in people:
            notes[j] = f"同一原因：该单位{type_}核定 {shown}、实有 {len(people)}，不另报{other}"
    out = []
    for i, f in enumerate(findings):
        if i in drop:
            continue
        if i in notes:
            f = replace(f, evidence=_ev(**json.loads(f.evidence), 另=notes[i]))
        out.append(f)
    return out


def _merge_missing(findings: list[Finding]) -> list[Finding]:
    """The per-figure 数据不全 findings of a unit become one finding for the unit (subject "")."""
    missing: dict[int, list[str]] = {}
    out = []
    for f in findings:
        if f.rule == "数据不全" and f.subject.startswith("figure:"):
            missing.setdefault(f.unit_id, []).append(f.subject.removeprefix("figure:"))
        else:
            out.append(f)
    out += [Finding(u, "数据不全", "", 1, _ev(缺少=names)) for u, names in missing.items()]
    return out


def _missing(unit_id: int, figure: str, type_: str = "", actual: int = 0) -> Finding:
    return Finding(unit_id, "数据不全", f"figure:{figure}", 1, _ev(编制类型=type_, 核定=None, 实有=actual))


def on_books() -> Any:
    """Only people still on the books count (人员状态 not 退休, 去世, 调出, 辞职, …)."""
    return P.status.not_in(OFF_BOOKS_STATUSES)


def _establishment(facts: dict[int, UnitFacts], s: WarningSettings) -> list[Finding]:
    """Per unit and 编制类型 that has people on the books."""
    out = []
    for unit_id, unit in facts.items():
        approved, actual = unit.approved, unit.staff
        skip = set()
        if cangong_mislabel(unit.cangong, approved, actual):
            n, admin = actual["事业编制"], approved["行政编制"] or 0
            out.append(Finding(unit_id, "口径不一致", "事业编制", 3 if n > admin else 1,
                               _ev(行政编制核定=admin, 事业编制核定=approved["事业编制"], 事业编制实有=n)))
            skip.add("事业编制")
        for type_ in sorted(actual):
            n = actual[type_]
            if type_ in skip or type_ not in approved:
                continue
            figure = approved[type_]
            if figure is None:
                out.append(_missing(unit_id, f"{type_}核定数", type_, n))
            elif n > figure or (figure > 0 and n >= figure * s.critical_ratio):
                level = 3 if n > figure else 2 if n == figure else 1
                out.append(Finding(unit_id, "编制", type_, level, _ev(核定=figure, 实有=n)))
    return out


def cangong_mislabel(cangong: bool, approved: dict[str, int | None], actual: dict[str, int]) -> bool:
    """A 参公 unit whose 编制 sits in the 行政编制 column while its staff carry 事业编制 (the usual
    labelling for 参公): no 事业编制 figure, a 行政编制 figure, 事业编制 staff and no 行政编制 staff."""
    return (cangong and not approved.get("事业编制") and (approved.get("行政编制") or 0) > 0
            and actual.get("事业编制", 0) > 0 and not actual.get("行政编制"))


def _leader_posts(facts: dict[int, UnitFacts]) -> list[Finding]:
    out = []
    for level_, rank in POST_COLUMNS:
        for u, unit in facts.items():
            n, c = unit.leaders.get((level_, rank), 0), unit.posts[level_, rank]
            if not n:
                continue
            if c is None:
                out.append(_missing(u, f"{level_}{rank}职数", "", n))
            elif n > c:
                out.append(Finding(u, "超职数", f"{level_}{rank}", 3, _ev(核定=c, 实配=n)))
    return out


async def _mixed_posts(session: AsyncSession, today: date, s: WarningSettings, scope: list[int] | None,
                       ) -> list[Finding]:
    """单位类别 is the truth (not the credit code's prefix, which the units import checks)."""
    long_ago = today - timedelta(days=round(s.elsewhere_months * 30.4))
    legal = P.staffing_type.in_(("行政编制", "政法专项编制"))
    reason = case(
        (and_(U.kind == "党政机关", P.staffing_type == "事业编制"), "机关使用事业编制人员"),
        (and_(U.kind == "群团机关", P.staffing_type == "事业编制"), "群团机关使用事业编制人员"),
        (and_(U.kind == "事业单位", legal, U.is_cangong == False), "事业单位使用行政/政法编制"),  # noqa: E712
        (and_(U.kind == "事业单位", legal, U.is_cangong == True), "参公单位使用行政/政法编制"),  # noqa: E712
        (and_(P.staffing_type == "工勤编制", P.is_leader == True), "工勤编制人员担任领导职务"),  # noqa: E712
        (and_(P.work_unit_id.is_not(None), P.work_unit_id != P.unit_id, P.work_elsewhere_since <= long_ago),
         "长期在其他单位工作"),
        else_=None,
    ).label("reason")
    people = select(P.unit_id, P.id_number, P.name, P.staffing_type, P.post, P.work_elsewhere_since,
                    P.work_since_stated, reason).join(Unit, U.id == P.unit_id).where(
        _in_scope(P.unit_id, scope), on_books()).subquery()
    rows = (await session.exec(select(people).where(people.c.reason.is_not(None)))).all()  # type: ignore[call-overload]
    out = []
    for u, idn, name, t, post, since, stated, why in rows:
        extra: dict[str, Any] = {}
        if why == "长期在其他单位工作":
            extra["起始"] = f"自 {since}" if stated else f"自首次导入起（{since}，未填借调/挂职开始日期）"
        out.append(Finding(u, "混岗", idn, 2, _ev(姓名=name, 身份证号=idn, 编制类型=t, 职务=post, 情形=why, **extra)))
    return out


async def _retirement(session: AsyncSession, today: date, s: WarningSettings, scope: list[int] | None,
                      ) -> list[Finding]:
    """超龄未退 from the month after the retirement month; 临退 when the retirement month is this month
    or one of the next `retire_soon_months` months (2026-09 with 6: 2026-09 … 2027-03)."""
    month = today.replace(day=1)
    soon = _months_later(month, s.retire_soon_months + 1)
    flexible_ok = and_(P.flexible_until.is_not(None), P.flexible_until >= today)
    rows = (await session.exec(select(  # type: ignore[call-overload]
        P.unit_id, P.id_number, P.name, P.retirement_month, P.flexible_until,
    ).where(_in_scope(P.unit_id, scope), on_books(), P.retirement_month.is_not(None), or_(
        and_(P.retirement_month < month, ~flexible_ok), and_(P.retirement_month >= month, P.retirement_month < soon)),
    ))).all()
    out = []
    for unit_id, idn, name, retire, flexible in rows:
        rule, level = ("超龄未退", 3) if retire < month else ("临退", 1)
        out.append(Finding(unit_id, rule, idn, level, _ev(姓名=name, 身份证号=idn, 退休年月=retire.strftime("%Y-%m"),
                                                          弹性延迟至=flexible)))
    unknown = (await session.exec(select(P.unit_id, P.id_number, P.name).where(  # type: ignore[call-overload]
        _in_scope(P.unit_id, scope), on_books(), P.sex == "女", P.retirement_month.is_(None),
        P.retire_category == ""))).all()
    out += [Finding(u, "数据不全", idn, 1, _ev(姓名=name, 身份证号=idn, 缺少="人员类别和身份（无法确定退休年龄）"))
            for u, idn, name in unknown]
    return out


async def _same_person(session: AsyncSession, today: date, s: WarningSettings, scope: list[int] | None,
                       ) -> list[Finding]:
    dup = select(P.id_number).where(on_books()).group_by(P.id_number).having(
        func.min(P.unit_id) != func.max(P.unit_id))  # on the books in more than one unit
    batches = [dup]
    if scope is not None and len(scope) <= 1000:  # a few units (after an import): their people's 身份证号 by value
        ids = sorted({r[0] for r in (await session.exec(select(P.id_number).where(  # type: ignore[call-overload]
            P.unit_id.in_(scope), on_books()))).all()})
        batches = [dup.where(P.id_number.in_(ids[i:i + 1000])) for i in range(0, len(ids), 1000)]
    elif scope is not None:
        batches = [dup.where(P.id_number.in_(select(P.id_number).where(P.unit_id.in_(scope), on_books())))]
    out = []
    for batch in batches:
        rows = (await session.exec(select(P.unit_id, P.id_number, P.name).where(  # type: ignore[call-overload]
            P.id_number.in_(batch), on_books(), _in_scope(P.unit_id, scope)))).all()
        out += [Finding(u, "一人多岗", idn, 2, _ev(姓名=name, 身份证号=idn)) for u, idn, name in rows]
    return out


def _stale(facts: dict[int, UnitFacts], today: date, s: WarningSettings) -> list[Finding]:
    limit = today - timedelta(days=s.stale_days)
    out = []
    for unit_id, unit in facts.items():
        imported = unit.imported_at.date() if unit.imported_at else None
        last = max(d for d in (unit.updated_on, imported, date.min) if d)
        if last < limit and last != date.min:
            out.append(Finding(unit_id, "数据陈旧", "", 1, _ev(最近更新=last)))
    return out
