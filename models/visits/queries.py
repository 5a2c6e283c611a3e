"""走访 reads: groups, plans, planned visits, records, 三定问效 years and draws, and the planning instance
built from the database (the planner itself is pure: models/visits/roster.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts.tables import Account
from models.calendar.workdays import WorkCalendar
from models.rectification.rules import last_overdue_deadline
from models.rectification.tables import OPEN_STATUSES, Problem
from models.staffing.persons import Person, Warning
from models.staffing.units import Unit
from models.staffing.watchlist import watched_unit_ids
from models.visits.roster import RosterGroup, RosterInstance, RosterUnit, RosterWeights
from models.visits.tables import PlannedVisit, RandomDraw, RosterPlan, SandingPlan, VisitGroup, VisitRecord

OFFICE_ROLE_CODES = ("office_staff", "office_leader")  # models.accounts.roles.Role values (models never import bot/)
OFFICE_NAME = "机构编制委员会办公室"  # 编办's full name, in every county's unit list
SEVERE = 3  # Warning.level of a 严重 warning


def split_ids(text: str) -> list[str]:
    return [p for p in (text or "").split(",") if p]


def group_people(group: VisitGroup) -> list[str]:
    return list(dict.fromkeys([group.leader_user_id, *split_ids(group.member_user_ids)]))


def blocked(group: VisitGroup) -> frozenset[int]:
    return frozenset(int(m) for m in split_ids(group.blocked_months))


def avoided(group: VisitGroup) -> frozenset[int]:
    return frozenset(int(u) for u in split_ids(group.avoid_unit_ids))


def _id(value: int | None) -> int:
    """A stored row's primary key (always set once the row is in the database)."""
    assert value is not None
    return value


async def active_groups(session: AsyncSession) -> list[VisitGroup]:
    return list((await session.exec(select(VisitGroup).where(col(VisitGroup.active).is_(True))
                                     .order_by(col(VisitGroup.id)))).all())


async def groups_by_id(session: AsyncSession) -> dict[int, VisitGroup]:
    """Every group, active or not (old plans may name a retired group)."""
    return {_id(g.id): g for g in (await session.exec(select(VisitGroup))).all()}


async def groups_by_name(session: AsyncSession) -> dict[str, VisitGroup]:
    return {g.name: g for g in (await session.exec(select(VisitGroup))).all()}


async def group_named(session: AsyncSession, *, name: str) -> VisitGroup | None:
    return (await session.exec(select(VisitGroup).where(VisitGroup.name == name))).first()


async def units_by_id(session: AsyncSession) -> dict[int, Unit]:
    return {_id(u.id): u for u in (await session.exec(select(Unit))).all()}


async def active_user_ids(session: AsyncSession) -> set[str]:
    return set((await session.exec(select(Account.user_id).where(col(Account.active).is_(True)))).all())


async def account_names(session: AsyncSession, *, user_ids: Iterable[str]) -> dict[str, str]:
    """userId → the account's name, for the accounts that exist."""
    rows = (await session.exec(select(Account).where(col(Account.user_id).in_(list(user_ids))))).all()
    return {a.user_id: a.name for a in rows}


async def unit_labels(session: AsyncSession, *, unit_ids: Iterable[int]) -> dict[int, str]:
    rows = (await session.exec(select(Unit).where(col(Unit.id).in_(list(unit_ids))))).all()
    return {_id(u.id): u.label for u in rows}


async def priority_units(session: AsyncSession, *, today: date, cal: WorkCalendar) -> set[int]:
    """Units with an open red (overdue) problem, an open severe warning, or on the 监管异常名录 go first
    (Q1). Red is the 台账's light: a deadline on a rest day is due on the next working day."""
    red = select(Problem.unit_id).where(col(Problem.status).in_(OPEN_STATUSES),
                                        col(Problem.deadline) <= last_overdue_deadline(cal, today))
    severe = select(Warning.unit_id).where(col(Warning.resolved_on).is_(None), Warning.level == SEVERE)
    watched = await watched_unit_ids(session)
    return set((await session.exec(red)).all()) | set((await session.exec(severe)).all()) | watched


async def office_unit_ids(session: AsyncSession) -> set[int]:
    """The office's own unit(s): where the 编办业务员 and 编办领导 accounts belong, and any unit named
    …机构编制委员会办公室 (so the office is left out even before its accounts are imported)."""
    rows = (await session.exec(select(Account.unit_id, Account.roles).where(
        col(Account.unit_id).is_not(None), col(Account.active).is_(True)))).all()
    named = (await session.exec(select(Unit.id).where(col(Unit.name).contains(OFFICE_NAME)))).all()
    staffed = {unit for unit, roles in rows
               if unit is not None and any(code in (roles or "").split(",") for code in OFFICE_ROLE_CODES)}
    return staffed | {u for u in named if u is not None}


async def visit_units(session: AsyncSession) -> list[Unit]:
    """Units that may be visited, put in 三定问效 or drawn: not the office itself, not flagged
    不纳入走访抽查 (e.g. units being abolished); by id."""
    own = await office_unit_ids(session)
    units = (await session.exec(select(Unit).where(col(Unit.visit_exempt).is_(False)).order_by(col(Unit.id)))).all()
    return [u for u in units if u.id not in own]


async def current_plan(session: AsyncSession, year: int) -> RosterPlan | None:
    return (await session.exec(select(RosterPlan).where(RosterPlan.year == year, col(RosterPlan.current).is_(True))
                               .order_by(col(RosterPlan.id).desc()))).first()


async def plan_for(session: AsyncSession, year: int | None, today: date) -> RosterPlan | None:
    """The plan a view shows: the year asked for; else this year's, next year's or the latest one."""
    if year is not None:
        return await current_plan(session, year)
    for y in (today.year, today.year + 1):
        plan = await current_plan(session, y)
        if plan is not None:
            return plan
    return (await session.exec(select(RosterPlan).where(col(RosterPlan.current).is_(True))
                               .order_by(col(RosterPlan.year).desc()))).first()


async def plan_visits(session: AsyncSession, plan: RosterPlan) -> list[PlannedVisit]:
    return list((await session.exec(select(PlannedVisit).where(PlannedVisit.plan_id == plan.id))).all())


async def planned_visit(session: AsyncSession, *, plan: RosterPlan | None, unit_id: int) -> PlannedVisit | None:
    """The unit's visit in `plan` (None without a plan)."""
    if plan is None:
        return None
    return (await session.exec(select(PlannedVisit).where(
        PlannedVisit.plan_id == plan.id, PlannedVisit.unit_id == unit_id))).first()


async def roster_rows(session: AsyncSession, *, plan: RosterPlan) -> list[tuple[PlannedVisit, Unit, VisitGroup]]:
    """The plan's visits with their unit and group (export, monthly pushes)."""
    rows = (await session.exec(select(PlannedVisit, Unit, VisitGroup)
                               .join(Unit, col(PlannedVisit.unit_id) == col(Unit.id))
                               .join(VisitGroup, col(PlannedVisit.group_id) == col(VisitGroup.id))
                               .where(PlannedVisit.plan_id == plan.id))).all()
    return [(v, u, g) for v, u, g in rows]


async def visited_unit_ids(session: AsyncSession, *, year: int) -> set[int]:
    """Units with a visit record in `year`."""
    return set((await session.exec(select(VisitRecord.unit_id).where(
        col(VisitRecord.visited_on) >= date(year, 1, 1), col(VisitRecord.visited_on) <= date(year, 12, 31)))).all())


async def visit_record(session: AsyncSession, *, record_id: int) -> VisitRecord | None:
    return await session.get(VisitRecord, record_id)


async def sanding_year(session: AsyncSession, *, year: int) -> int:
    """`year` when it has 三定问效 units, else the nearest planned coming year (then the nearest past one)."""
    if (await session.exec(select(SandingPlan.id).where(SandingPlan.year == year))).first():
        return year
    planned = set((await session.exec(select(SandingPlan.year))).all())
    years = sorted(planned, key=lambda y: (y < year, abs(y - year)))
    return years[0] if years else year


async def sanding_rows(session: AsyncSession, *, year: int) -> list[tuple[SandingPlan, Unit]]:
    rows = (await session.exec(select(SandingPlan, Unit).join(Unit, col(SandingPlan.unit_id) == col(Unit.id))
                               .where(SandingPlan.year == year).order_by(col(Unit.id)))).all()
    return [(p, u) for p, u in rows]


async def random_draw(session: AsyncSession, *, draw_id: int) -> RandomDraw | None:
    return await session.get(RandomDraw, draw_id)


async def derived_avoidance(session: AsyncSession, groups: list[VisitGroup]) -> dict[int, set[int]]:
    """回避 from the 实名制 data: a member whose 编制 sits in unit X while working in the member's own
    unit (e.g. 借调 to the office) came from X and must not visit it. Matched on name and workplace."""
    members = {u for g in groups for u in group_people(g)}
    accounts = (await session.exec(select(Account).where(col(Account.user_id).in_(members)))).all()
    by_user = {a.user_id: a for a in accounts if a.unit_id}
    if not by_user:
        return {}
    names = {a.name for a in by_user.values()}
    rows = (await session.exec(select(Person.name, Person.unit_id, Person.work_unit_id).where(
        col(Person.name).in_(names), col(Person.work_unit_id).is_not(None)))).all()
    out: dict[int, set[int]] = {}
    for g in groups:
        for user in group_people(g):
            account = by_user.get(user)
            if account is None:
                continue
            out.setdefault(_id(g.id), set()).update(
                unit for name, unit, works in rows if name == account.name and works == account.unit_id)
    return out


async def build_instance(session: AsyncSession, year: int, from_month: int, today: date, cal: WorkCalendar,
                         weights: RosterWeights | None = None) -> tuple[RosterInstance, list[VisitGroup]]:
    """The planning instance: every unit, the active groups, priorities, last year's pairs and — on a
    re-plan — the visits before `from_month` (and every unit already visited this year) kept fixed."""
    groups = await active_groups(session)
    derived = await derived_avoidance(session, groups)
    units = await visit_units(session)
    first = await priority_units(session, today=today, cal=cal)
    last = await current_plan(session, year - 1)
    last_pairs = {v.unit_id: v.group_id for v in await plan_visits(session, last)} if last else {}
    fixed: dict[int, tuple[int, int]] = {}
    plan = await current_plan(session, year)
    if plan is not None and from_month > 1:
        visited = await visited_unit_ids(session, year=year)
        pool = {u.id for u in units}
        for v in await plan_visits(session, plan):
            if v.unit_id in pool and (v.month < from_month or v.unit_id in visited):
                fixed[v.unit_id] = (v.group_id, v.month)
    instance = RosterInstance(
        units=[RosterUnit(_id(u.id), u.town or "", u.id in first, last_pairs.get(_id(u.id)), u.label) for u in units],
        groups=[RosterGroup(_id(g.id), g.name, blocked(g), avoided(g) | derived.get(_id(g.id), set()))
                for g in groups],
        weights=weights or RosterWeights(), fixed=fixed, from_month=from_month,
    )
    return instance, groups


async def latest_record_by(session: AsyncSession, *, account_id: int, since: datetime) -> VisitRecord | None:
    """The account's newest 走访记录 made since `since` (its photos and files join it)."""
    return (await session.exec(select(VisitRecord).where(
        VisitRecord.recorded_by == account_id, col(VisitRecord.created_at) >= since)
        .order_by(col(VisitRecord.id).desc()))).first()
