"""走访 state changes, each with its audit row in the caller's transaction: a stored plan, a fixed day, a
manual move (调整走访, with its checks), a visit record and its problem, the 三定问效 years and a draw."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts.tables import Account
from models.audit import audit
from models.visits.queries import avoided, blocked, derived_avoidance
from models.visits.roster import RosterResult
from models.visits.tables import (
    PlannedVisit,
    RandomDraw,
    RosterPlan,
    SandingPlan,
    VisitAttachment,
    VisitGroup,
    VisitRecord,
)


def _audit(session: AsyncSession, actor: Account | None, action: str, entity: str, entity_id: object,
           detail: str = "") -> None:
    audit(session, f"visit.{action}", entity, entity_id, detail,
          actor_account_id=actor.id if actor else None, actor_user_id=actor.user_id if actor else "")


async def save_plan(session: AsyncSession, *, year: int, result: RosterResult, from_month: int,
                    actor: Account | None) -> RosterPlan:
    """The new plan in force for `year` (older ones of the year stay, no longer current)."""
    await session.exec(update(RosterPlan).where(col(RosterPlan.year) == year).values(current=False))
    plan = RosterPlan(year=year, from_month=from_month, objective=result.objective, bound=result.bound,
                      optimal=result.optimal, seconds=round(result.seconds, 3), created_by=actor.id if actor else None,
                      report=json.dumps({"figures": result.figures, "problems": result.problems,
                                         "status": result.status}, ensure_ascii=False, default=str))
    session.add(plan)
    await session.flush()
    assert plan.id is not None
    for unit_id, (group_id, month) in result.assignments.items():
        session.add(PlannedVisit(plan_id=plan.id, unit_id=unit_id, group_id=group_id, month=month))
    _audit(session, actor, "plan", "roster_plan", plan.id,
           f"{year} 年，从 {from_month} 月起，{len(result.assignments)} 个单位，目标值 {result.objective}")
    return plan


async def schedule_visit(session: AsyncSession, *, visit_id: int, day: date,
                         actor: Account | None) -> PlannedVisit | None:
    """走访安排: the day the group goes (None when the visit is no longer in a plan)."""
    visit = await session.get(PlannedVisit, visit_id)
    if visit is None:
        return None
    visit.scheduled_on = day
    session.add(visit)
    _audit(session, actor, "schedule", "planned_visit", visit_id, day.isoformat())
    return visit


async def record_visit(session: AsyncSession, *, unit_id: int, group_id: int | None, visited_on: date, who: str,
                       findings: str, actor: Account | None, at: datetime) -> VisitRecord:
    record = VisitRecord(unit_id=unit_id, group_id=group_id, visited_on=visited_on, who=who,
                         findings=findings[:4000], recorded_by=actor.id if actor else None, created_at=at)
    session.add(record)
    await session.flush()
    _audit(session, actor, "record", "visit_record", f"ZF{record.id}", findings[:200])
    return record


async def link_problem(session: AsyncSession, *, record_id: int, problem_id: int | None,
                       actor: Account | None = None) -> None:
    """转整改: the visit record points at the problem made from it."""
    record = await session.get(VisitRecord, record_id)
    if record is None:
        return
    record.problem_id = problem_id
    session.add(record)
    _audit(session, actor, "to_problem", "visit_record", f"ZF{record_id}", f"problem {problem_id}")


@dataclass
class MoveCheck:
    ok: bool
    reason: str = ""


async def check_move(session: AsyncSession, plan: RosterPlan, unit_id: int, group: VisitGroup, month: int,
                     max_per_slot: int = 3) -> MoveCheck:
    """调整走访: 回避, blocked months and at most three visits per group-month are never broken."""
    if unit_id in avoided(group) | (await derived_avoidance(session, [group])).get(group.id or 0, set()):
        return MoveCheck(False, f"{group.name}需回避该单位")
    if month in blocked(group):
        return MoveCheck(False, f"{group.name}{month}月不能走访")
    count = (await session.exec(select(func.count()).select_from(PlannedVisit).where(
        PlannedVisit.plan_id == plan.id, PlannedVisit.group_id == group.id, PlannedVisit.month == month,
        PlannedVisit.unit_id != unit_id))).one()
    if count >= max_per_slot:
        return MoveCheck(False, f"{group.name}{month}月已安排 {count} 家，每组每月最多 {max_per_slot} 家")
    return MoveCheck(True)


async def move_visit(session: AsyncSession, *, plan: RosterPlan, visit: PlannedVisit, group: VisitGroup, month: int,
                     actor: Account | None) -> MoveCheck:
    """调整走访: the visit goes to `group` in `month` (its fixed day cleared) when check_move allows it."""
    check = await check_move(session, plan, visit.unit_id, group, month)
    if not check.ok:
        return check
    assert group.id is not None
    before = f"组 {visit.group_id} {visit.month} 月"
    visit.group_id, visit.month, visit.scheduled_on = group.id, month, None
    session.add(visit)
    _audit(session, actor, "move", "planned_visit", visit.id, f"{before} → {group.name} {month} 月")
    return check


async def save_sanding_plan(session: AsyncSession, *, years: list[int], plan: dict[int, int],
                            actor: Account | None) -> None:
    """三定问效: the cycle starting `years[0]` replaced by `plan` (unit → year)."""
    await session.exec(delete(SandingPlan).where(col(SandingPlan.cycle_start) == years[0]))
    for unit_id, year in plan.items():
        session.add(SandingPlan(cycle_start=years[0], unit_id=unit_id, year=year))
    _audit(session, actor, "sanding", "sanding_plan", years[0], f"{years[0]}-{years[-1]}，{len(plan)} 个单位")


async def save_draw(session: AsyncSession, *, seed: str, unit_pool: list[int], inspector_pool: list[str],
                    units: list[int], inspectors: list[str], actor: Account | None) -> RandomDraw:
    """双随机: the draw with its seed and pools, so that anyone can re-run it (复核抽查)."""
    record = RandomDraw(seed=seed, units_wanted=len(units), inspectors_wanted=len(inspectors),
                        unit_pool=json.dumps(unit_pool), inspector_pool=json.dumps(inspector_pool),
                        units=json.dumps(units), inspectors=json.dumps(inspectors),
                        drawn_by=actor.id if actor else None)
    session.add(record)
    await session.flush()
    _audit(session, actor, "draw", "random_draw", record.id, f"种子 {seed}")
    return record


async def add_record_attachments(session: AsyncSession, *, record_id: int,
                                 files: list[tuple[str, str, str, int, str]]) -> int:
    """Keep a 走访记录's photos and files ((kind, file name, stored path, size, sha256)); returns its file count."""
    for kind, name, path, size, sha in files:
        session.add(VisitAttachment(record_id=record_id, kind=kind, file_name=name, path=path, size=size, sha256=sha))
    audit(session, "visit.attachments", "visit_record", record_id, f"{len(files)} 个附件")
    await session.flush()
    return len((await session.exec(select(VisitAttachment.id).where(VisitAttachment.record_id == record_id))).all())
