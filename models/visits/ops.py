"""走访 data around the planner: building a planning instance from the database, storing a plan,
coverage, and the checks of a manual move (调整走访)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.rectification.tables import OPEN_STATUSES, Problem
from models.staffing.persons import Warning
from models.staffing.units import Unit
from models.staffing.watchlist import watched_unit_ids
from models.visits.roster import RosterGroup, RosterInstance, RosterResult, RosterUnit, RosterWeights
from models.visits.tables import PlannedVisit, RosterPlan, VisitGroup, VisitRecord


def split_ids(text: str) -> list[str]:
    return [p for p in (text or "").split(",") if p]


def group_people(group: VisitGroup) -> list[str]:
    return list(dict.fromkeys([group.leader_user_id, *split_ids(group.member_user_ids)]))


def blocked(group: VisitGroup) -> frozenset[int]:
    return frozenset(int(m) for m in split_ids(group.blocked_months))


def avoided(group: VisitGroup) -> frozenset[int]:
    return frozenset(int(u) for u in split_ids(group.avoid_unit_ids))


async def active_groups(session: AsyncSession) -> list[VisitGroup]:
    return list((await session.exec(select(VisitGroup).where(VisitGroup.active == True)  # noqa: E712
                                     .order_by(VisitGroup.id))).all())


async def priority_units(session: AsyncSession, today: date) -> set[int]:
    """Units with an open red (overdue) problem, an open severe warning, or on the 监管异常名录 go first (Q1)."""
    red = select(Problem.unit_id).where(Problem.status.in_(OPEN_STATUSES), Problem.deadline < today)  # type: ignore[attr-defined]
    severe = select(Warning.unit_id).where(Warning.resolved_on.is_(None), Warning.level == 3)  # type: ignore[union-attr]
    watched = await watched_unit_ids(session)
    return set((await session.exec(red)).all()) | set((await session.exec(severe)).all()) | watched


OFFICE_ROLE_CODES = ("office_staff", "office_leader")  # models.accounts.roles.Role values (models never import bot/)


OFFICE_NAME = "机构编制委员会办公室"  # 编办's full name, in every county's unit list


async def office_unit_ids(session: AsyncSession) -> set[int]:
    """The office's own unit(s): where the 编办业务员 and 编办领导 accounts belong, and any unit named
    …机构编制委员会办公室 (so the office is left out even before its accounts are imported)."""
    from models.accounts.tables import Account

    rows = (await session.exec(select(Account.unit_id, Account.roles).where(
        Account.unit_id.is_not(None), Account.active == True))).all()  # type: ignore[union-attr]  # noqa: E712
    named = (await session.exec(select(Unit.id).where(Unit.name.contains(OFFICE_NAME)))).all()  # type: ignore[attr-defined]
    staffed = {unit for unit, roles in rows if any(code in (roles or "").split(",") for code in OFFICE_ROLE_CODES)}
    return staffed | set(named)


async def visit_units(session: AsyncSession) -> list[Unit]:
    """Units that may be visited, put in 三定问效 or drawn: not the office itself, not flagged
    不纳入走访抽查 (e.g. units being abolished); by id."""
    own = await office_unit_ids(session)
    units = (await session.exec(select(Unit).where(Unit.visit_exempt == False).order_by(Unit.id))).all()  # noqa: E712
    return [u for u in units if u.id not in own]


async def current_plan(session: AsyncSession, year: int) -> RosterPlan | None:
    return (await session.exec(select(RosterPlan).where(RosterPlan.year == year, RosterPlan.current == True)  # noqa: E712
                               .order_by(RosterPlan.id.desc()))).first()  # type: ignore[union-attr]


async def plan_for(session: AsyncSession, year: int | None, today: date) -> RosterPlan | None:
    """The plan a view shows: the year asked for; else this year's, next year's or the latest one."""
    if year is not None:
        return await current_plan(session, year)
    for y in (today.year, today.year + 1):
        plan = await current_plan(session, y)
        if plan is not None:
            return plan
    return (await session.exec(select(RosterPlan).where(RosterPlan.current == True)  # noqa: E712
                               .order_by(RosterPlan.year.desc()))).first()  # type: ignore[attr-defined]


async def plan_visits(session: AsyncSession, plan: RosterPlan) -> list[PlannedVisit]:
    return list((await session.exec(select(PlannedVisit).where(PlannedVisit.plan_id == plan.id))).all())


async def derived_avoidance(session: AsyncSession, groups: list[VisitGroup]) -> dict[int, set[int]]:
    """回避 from the 实名制 data: a member whose 编制 sits in unit X while working in the member's own
    unit (e.g. 借调 to the office) came from X and must not visit it. Matched on name and workplace."""
    from models.accounts.tables import Account
    from models.staffing.persons import Person

    members = {u for g in groups for u in group_people(g)}
    accounts = (await session.exec(select(Account).where(Account.user_id.in_(members)))).all()  # type: ignore[attr-defined]
    by_user = {a.user_id: a for a in accounts if a.unit_id}
    if not by_user:
        return {}
    names = {a.name for a in by_user.values()}
    rows = (await session.exec(select(Person.name, Person.unit_id, Person.work_unit_id).where(
        Person.name.in_(names), Person.work_unit_id.is_not(None)))).all()  # type: ignore[attr-defined,union-attr]
    out: dict[int, set[int]] = {}
    for g in groups:
        for user in group_people(g):
            account = by_user.get(user)
            if account is None:
                continue
            out.setdefault(g.id, set()).update(  # type: ignore[arg-type]
                unit for name, unit, works in rows if name == account.name and works == account.unit_id)
    return out


async def build_instance(session: AsyncSession, year: int, from_month: int, today: date,
                         weights: RosterWeights | None = None) -> tuple[RosterInstance, list[VisitGroup]]:
    """The planning instance: every unit, the active groups, priorities, last year's pairs and — on a
    re-plan — the visits before `from_month` (and every unit already visited this year) kept fixed."""
    groups = await active_groups(session)
    derived = await derived_avoidance(session, groups)
    units = await visit_units(session)
    first = await priority_units(session, today)
    last = await current_plan(session, year - 1)
    last_pairs = {v.unit_id: v.group_id for v in await plan_visits(session, last)} if last else {}
    fixed: dict[int, tuple[int, int]] = {}
    plan = await current_plan(session, year)
    if plan is not None and from_month > 1:
        visited = set((await session.exec(select(VisitRecord.unit_id).where(
            func.extract("year", VisitRecord.visited_on) == year))).all())
        pool = {u.id for u in units}
        for v in await plan_visits(session, plan):
            if v.unit_id in pool and (v.month < from_month or v.unit_id in visited):
                fixed[v.unit_id] = (v.group_id, v.month)
    instance = RosterInstance(
        units=[RosterUnit(u.id, u.town or "", u.id in first, last_pairs.get(u.id), u.label) for u in units],  # type: ignore[arg-type]
        groups=[RosterGroup(g.id, g.name, blocked(g), avoided(g) | derived.get(g.id, set()))  # type: ignore[arg-type]
                for g in groups],
        weights=weights or RosterWeights(), fixed=fixed, from_month=from_month,
    )
    return instance, groups


async def save_plan(session: AsyncSession, year: int, result: RosterResult, from_month: int,
                    actor_id: int | None) -> RosterPlan:
    await session.exec(update(RosterPlan).where(RosterPlan.year == year).values(current=False))  # type: ignore[call-overload]
    plan = RosterPlan(year=year, from_month=from_month, objective=result.objective, bound=result.bound,
                      optimal=result.optimal, seconds=round(result.seconds, 3), created_by=actor_id,
                      report=json.dumps({"figures": result.figures, "problems": result.problems,
                                         "status": result.status}, ensure_ascii=False, default=str))
    session.add(plan)
    await session.flush()
    for unit_id, (group_id, month) in result.assignments.items():
        session.add(PlannedVisit(plan_id=plan.id, unit_id=unit_id, group_id=group_id, month=month))  # type: ignore[arg-type]
    return plan


@dataclass
class MoveCheck:
    ok: bool
    reason: str = ""


async def check_move(session: AsyncSession, plan: RosterPlan, unit_id: int, group: VisitGroup, month: int,
                     max_per_slot: int = 3) -> MoveCheck:
    """调整走访: 回避, blocked months and at most three visits per group-month are never broken."""
    if unit_id in avoided(group) | (await derived_avoidance(session, [group])).get(group.id, set()):
        return MoveCheck(False, f"{group.name}需回避该单位")
    if month in blocked(group):
        return MoveCheck(False, f"{group.name}{month}月不能走访")
    count = (await session.exec(select(func.count()).select_from(PlannedVisit).where(
        PlannedVisit.plan_id == plan.id, PlannedVisit.group_id == group.id, PlannedVisit.month == month,
        PlannedVisit.unit_id != unit_id))).one()
    if count >= max_per_slot:
        return MoveCheck(False, f"{group.name}{month}月已安排 {count} 家，每组每月最多 {max_per_slot} 家")
    return MoveCheck(True)
