"""下沉式走访: 生成走访计划, 走访计划, 走访安排, 走访记录, 调整走访, 走访进度, 走访分组."""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from datetime import date
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.context import Context, Incoming, Reply
from bot.dialogue import Flow
from bot.importing.fields import explain, parse_date, parse_id, parse_int, parse_year
from bot.render import md_escape
from bot.router import Command, Router
from handlers.rectification.common import usage
from handlers.rectification.sources import Draft, ProblemSource, ProblemSources
from models import Problem, Unit, VisitGroup
from models.accounts.roles import Right
from models.rectification.rules import local_today
from models.staffing.unit_match import match_units
from models.visits.ops import link_problem, move_visit, save_plan, schedule_visit
from models.visits.ops import record_visit as add_record
from models.visits.queries import (
    account_names,
    active_groups,
    build_instance,
    current_plan,
    group_named,
    group_people,
    groups_by_id,
    plan_for,
    plan_visits,
    planned_visit,
    split_ids,
    units_by_id,
    visit_record,
    visited_unit_ids,
)
from models.visits.roster import Q1_LAST_MONTH, RosterInstance, plan_roster


def status(kind: str, outcome: str = "ok", **data: Any) -> Reply:
    """A one-line 走访 answer (visit_status.md.j2)."""
    return Reply("visit_status.md.j2", {"kind": kind, **data}, outcome=outcome)


async def make_plan(msg: Incoming, ctx: Context) -> Reply:
    """生成走访计划 2027 [从5月]: plan the year (or re-plan from a month on, keeping the past)."""
    m = re.match(r"^(\d{4})\s*(?:从\s*(\d{1,2})\s*月)?", ctx.args)
    if not m:
        return usage("请写上年份。", "生成走访计划 年份 [从N月]", "生成走访计划 2027")
    try:
        year, from_month = parse_year(m.group(1)), parse_int(m.group(2) or 1, 1, 12, "月份")
    except ValueError as e:
        return usage(f"{e}。", "生成走访计划 年份 [从N月]", "生成走访计划 2027 从5月")
    today = local_today(ctx.services.clock())
    cal = await ctx.services.calendar()
    async with ctx.db.read() as session:
        instance, groups = await build_instance(session, year, from_month, today, cal)
    if not groups:
        return status("no_groups_to_plan", "invalid")
    limit = ctx.services.config.visits.time_limit_seconds
    result = await asyncio.to_thread(plan_roster, instance, limit)
    if result.status == "infeasible":
        return Reply("visit_plan_failed.md.j2", {"year": year, "problems": result.problems})
    async with ctx.db.write() as session:
        plan = await save_plan(session, year=year, result=result, from_month=from_month, actor=ctx.account)
    async with ctx.db.read() as session:
        units = await units_by_id(session)
    loads = Counter(g for g, _ in result.assignments.values())
    return Reply("visit_plan_made.md.j2", {
        "year": year, "version": plan.id, "units": len(result.assignments), "optimal": result.optimal,
        "gap": 100 * (result.objective - result.bound) / max(result.objective, 1), "seconds": result.seconds,
        "loads": [{"name": g.name, "count": loads[g.id or 0]} for g in groups],
        **_priority(instance, result.assignments, units),
        "repeat": sum(1 for u in instance.units if u.last_year_group is not None
                      and result.assignments.get(u.id, (None, 0))[0] == u.last_year_group),
        "spread": _town_spread(result.assignments, units, groups), "from_month": from_month,
        "problems": result.problems})


def _priority(instance: RosterInstance, assignments: dict[int, tuple[int, int]],
              units: dict[int, Unit]) -> dict[str, Any]:
    """重点单位 (open red problem or severe warning) should be visited in the first quarter."""
    first = {u.id for u in instance.units if u.priority}
    late = [units[u].label for u, (_, month) in assignments.items() if u in first and month > Q1_LAST_MONTH]
    return {"priority": bool(first), "late": late}


def _town_spread(assignments: dict[int, tuple[int, int]], units: dict[int, Unit],
                 groups: list[VisitGroup]) -> list[dict[str, Any]]:
    """Where a group has to go to more than one 乡镇 in a month, in the office's words."""
    towns: dict[tuple[int, int], set[str]] = defaultdict(set)
    for unit_id, slot in assignments.items():
        towns[slot].add(units[unit_id].town or "（未填乡镇）")
    names = {g.id: g.name for g in groups}
    spread = sorted((slot for slot, t in towns.items() if len(t) > 1), key=lambda s: (s[1], names.get(s[0], "")))
    return [{"group": names.get(g, ""), "month": m, "count_word": _count_word(len(towns[g, m])),
             "towns": sorted(towns[g, m])} for g, m in spread]


def _count_word(n: int) -> str:
    return {2: "两个", 3: "三个"}.get(n, f"{n}个")


def _year_arg(text: str) -> tuple[int | None, str]:
    """`2027 第一组` / `2027年` → (2027, rest); no year → (None, text)."""
    m = re.match(r"^(20\d{2})\s*年?\s*(.*)$", text.strip())
    return (int(m.group(1)), m.group(2).strip()) if m else (None, text.strip())


def _other_year(plan_year: int, asked: int | None, today: date) -> bool:
    """Whether the answer must say why another year than the current one is shown."""
    return asked is None and plan_year != today.year


async def show_plan(msg: Incoming, ctx: Context) -> Reply:
    """走访计划 [年份] [组名|本月|下月|N月|单位]: the year that has a plan unless one is named, always said."""
    today = local_today(ctx.services.clock())
    asked, arg = _year_arg(ctx.args)
    async with ctx.db.read() as session:
        plan = await plan_for(session, asked, today)
        if plan is None:
            return status("no_plan", "not_found", year=asked, suggest=asked)
        units, groups = await units_by_id(session), await groups_by_id(session)
        visits = await plan_visits(session, plan)
        month_arg = re.fullmatch(r"(\d{1,2})\s*月", arg)
        found = [] if not arg or arg in ("本月", "下月") or month_arg else await match_units(session, arg)
    by_group = {g.name: gid for gid, g in groups.items()}
    data: dict[str, Any] = {"year": plan.year, "this_year": today.year,
                            "other_year": _other_year(plan.year, asked, today), "earliest": False}
    if arg in by_group:
        chosen = [v for v in visits if v.group_id == by_group[arg]]
        data.update(view="group", group=arg)
    elif arg in ("本月", "下月", "") or month_arg:
        if month_arg:
            month = int(month_arg.group(1))
        elif plan.year > today.year:
            month = min((v.month for v in visits), default=1)
            data["earliest"] = True
        else:
            month = today.month % 12 + 1 if arg == "下月" else today.month
        chosen = [v for v in visits if v.month == month]
        data.update(view="month", month=month)
    elif found:
        ids = {u.id for u in found}
        chosen = [v for v in visits if v.unit_id in ids]
        data.update(view="units", units=[u.label for u in found])
    else:
        return usage(f"没有找到组或单位“{arg}”。", "走访计划 [年份] [组名|本月|N月|单位]")
    chosen.sort(key=lambda v: (v.month, groups[v.group_id].name, v.unit_id))
    data["visits"] = [{"month": v.month, "group": groups[v.group_id].name, "unit": units[v.unit_id].label,
                       "day": v.scheduled_on.isoformat() if v.scheduled_on else ""} for v in chosen]
    return Reply("visit_plan.md.j2", data)


async def _one_unit(session: AsyncSession, text: str) -> Unit | Reply:
    units = await match_units(session, text)
    if len(units) == 1:
        return units[0]
    if not units:
        return status("unit_missing", "not_found", text=text)
    return status("unit_ambiguous", "not_found", text=text, names=[u.name for u in units])


async def arrange(msg: Incoming, ctx: Context) -> Reply:
    """走访安排 <单位> <日期>: the group fixes the day (members are reminded the working day before)."""
    parts = ctx.raw_args.rsplit(maxsplit=1)
    if len(parts) < 2:
        return usage("请写上单位和日期。", "走访安排 单位 日期", "走访安排 教育局 2027-03-16")
    try:
        day = parse_date(parts[1], low=date(2000, 1, 1), high=date(2100, 12, 31))
    except ValueError as e:
        return usage(explain("日期", parts[1], e), "走访安排 单位 日期", "走访安排 教育局 2027-03-16")
    async with ctx.db.read() as session:
        unit = await _one_unit(session, parts[0])
        if isinstance(unit, Reply):
            return unit
        assert unit.id is not None
        visit = await planned_visit(session, plan=await current_plan(session, day.year), unit_id=unit.id)
    if visit is None:
        return status("not_in_year_plan", "not_found", year=day.year, unit=unit.label)
    data = {"visit": visit.id, "unit": unit.label, "day": day.isoformat()}
    if not (await ctx.services.calendar()).is_workday(day):  # a rest day: ask before fixing it
        return await ctx.services.dialogues.start(msg, ctx, ARRANGE_FLOW.name, data)
    return await _fix_day(msg, ctx, data)


async def _fix_day(msg: Incoming, ctx: Context, data: dict[str, Any]) -> Reply:
    day = date.fromisoformat(data["day"])
    async with ctx.db.write() as session:
        visit = await schedule_visit(session, visit_id=data["visit"], day=day, actor=ctx.account)
    if visit is None:
        return status("visit_gone", "not_found")
    return status("arranged", day=day.isoformat(), unit=data["unit"])


def _rest_day_warning(data: dict[str, Any]) -> str:
    day = date.fromisoformat(data["day"])
    return md_escape(f"{day} 是星期{'一二三四五六日'[day.weekday()]}，按工作日历是休息日。"
                     f"确定在这一天走访 {data['unit']} 吗？")


ARRANGE_FLOW = Flow(name="visit.rest_day", title="走访日期", steps=(), summary=_rest_day_warning,
                    finish=_fix_day)


async def record_visit(msg: Incoming, ctx: Context) -> Reply:
    """走访记录 <单位> <发现>: date, who went and the findings."""
    head, _, findings = ctx.raw_args.strip().partition(" ")
    if not head or not findings.strip():
        return usage("请写上单位和发现的情况。", "走访记录 单位 发现", "走访记录 教育局 借调人员台账不全")
    today = local_today(ctx.services.clock())
    async with ctx.db.write() as session:
        unit = await _one_unit(session, head)
        if isinstance(unit, Reply):
            return unit
        assert unit.id is not None
        planned = await planned_visit(session, plan=await current_plan(session, today.year), unit_id=unit.id)
        record = await add_record(session, unit_id=unit.id, group_id=planned.group_id if planned else None,
                                  visited_on=today, who=ctx.account.name if ctx.account else "",
                                  findings=findings.strip(), actor=ctx.account, at=ctx.services.clock())
    return status("recorded", unit=unit.label, number=record.id)


async def visit_draft(msg: Incoming, ctx: Context, token: str) -> Draft | Reply:
    """转整改 ZF<记录号>: a finding of a visit as a problem draft (source 下沉走访), linked both ways."""
    try:
        number: int | None = parse_id(token.upper().removeprefix("ZF"), "走访记录号")
    except ValueError:
        number = None
    async with ctx.db.read() as session:
        record = await visit_record(session, record_id=number) if number is not None else None
    if record is None or record.id is None:
        return status("record_missing", "not_found", token=token)
    if record.problem_id is not None:
        return status("record_linked", number=record.id)
    record_id = record.id

    async def link(session: Any, problem: Problem) -> None:
        await link_problem(session, record_id=record_id, problem_id=problem.id, actor=ctx.account)

    return Draft(unit_id=record.unit_id, source="下沉走访", description=record.findings,
                 requirement="请对走访发现的问题进行整改。", origin=f"visit:ZF{record.id}", link=link)


def add_problem_source(sources: ProblemSources) -> None:
    sources.add(ProblemSource(key="visit", prefix="ZF", label="走访记录号", example="转整改 ZF3 20个工作日",
                              load=visit_draft))


async def adjust(msg: Incoming, ctx: Context) -> Reply:
    """调整走访 <单位> <组名> <月份>, with every hard constraint checked."""
    parts = ctx.raw_args.split()
    if len(parts) < 3:
        return usage("请写上单位、组名和月份。", "调整走访 单位 组名 月份", "调整走访 教育局 第二组 5")
    try:
        month = parse_int(parts[-1].rstrip("月"), 1, 12, "月份")
    except ValueError as e:
        return usage(f"{e}。", "调整走访 单位 组名 月份", "调整走访 教育局 第二组 5")
    today = local_today(ctx.services.clock())
    async with ctx.db.write() as session:
        unit = await _one_unit(session, " ".join(parts[:-2]))
        if isinstance(unit, Reply):
            return unit
        assert unit.id is not None
        group = await group_named(session, name=parts[-2])
        if group is None:
            return status("group_missing", "not_found", name=parts[-2])
        plan = await current_plan(session, today.year) or await current_plan(session, today.year + 1)
        visit = await planned_visit(session, plan=plan, unit_id=unit.id)
        if plan is None or visit is None:
            return status("not_in_current_plan", "not_found", unit=unit.label)
        check = await move_visit(session, plan=plan, visit=visit, group=group, month=month, actor=ctx.account)
    if not check.ok:
        return status("cannot_move", "invalid", reason=check.reason)
    return status("moved", unit=unit.label, group=group.name, year=plan.year, month=month)


async def progress(msg: Incoming, ctx: Context) -> Reply:
    """走访进度 [年份]: coverage, per group, behind plan — of the year that has a plan unless one is named."""
    today = local_today(ctx.services.clock())
    asked, _ = _year_arg(ctx.args)
    async with ctx.db.read() as session:
        plan = await plan_for(session, asked, today)
        if plan is None:
            return status("no_plan", "not_found", year=asked or today.year)
        units, groups = await units_by_id(session), await groups_by_id(session)
        visits = await plan_visits(session, plan)
        done = await visited_unit_ids(session, year=plan.year)
    month_now = 13 if plan.year < today.year else today.month if plan.year == today.year else 0
    behind = sorted((v for v in visits if v.month < month_now and v.unit_id not in done), key=lambda v: v.month)
    per_group: dict[int, Counter[str]] = defaultdict(Counter)
    for v in visits:
        per_group[v.group_id]["planned"] += 1
        per_group[v.group_id]["done"] += v.unit_id in done
    return Reply("visit_progress.md.j2", {
        "year": plan.year, "this_year": today.year, "other_year": _other_year(plan.year, asked, today),
        "done": len(done & {v.unit_id for v in visits}), "planned": len(visits),
        "groups": [{"name": groups[g].name, "done": c["done"], "planned": c["planned"]}
                   for g, c in sorted(per_group.items())],
        "behind": [{"month": v.month, "group": groups[v.group_id].name, "unit": units[v.unit_id].label}
                   for v in behind]})


async def list_groups(msg: Incoming, ctx: Context) -> Reply:
    """走访分组: names (not user ids), blocked months and 回避 units by name."""
    async with ctx.db.read() as session:
        groups = await active_groups(session)
        names = await account_names(session, user_ids={p for g in groups for p in group_people(g)})
        units = await units_by_id(session)
    if not groups:
        return status("no_groups")

    def who(user_id: str) -> dict[str, str]:
        return {"user_id": user_id, "name": names.get(user_id, "")}

    return Reply("visit_groups.md.j2", {"groups": [{
        "name": g.name, "leader": who(g.leader_user_id), "members": [who(m) for m in split_ids(g.member_user_ids)],
        "blocked": split_ids(g.blocked_months),
        "avoid": [units[int(u)].label for u in split_ids(g.avoid_unit_ids) if int(u) in units]} for g in groups]})


def register(router: Router) -> None:
    add = router.add
    add(Command("生成走访计划", make_plan, Right.OFFICE_HANDLE, "生成全年走访计划（可从某月起重排）",
                "生成走访计划 年份 [从N月]", topic="走访"))
    add(Command("走访计划", show_plan, Right.OFFICE_VIEW, "查看走访计划（默认今年，今年没有计划时看明年）",
                "走访计划 [年份] [组名|本月|N月|单位]", topic="走访"))
    add(Command("走访安排", arrange, Right.OFFICE_HANDLE, "确定走访日期", "走访安排 单位 日期", topic="走访"))
    add(Command("走访记录", record_visit, Right.OFFICE_HANDLE, "记录走访发现（随后可发照片、文件）",
                "走访记录 单位 发现", topic="走访"))
    add(Command("调整走访", adjust, Right.OFFICE_HANDLE, "把某单位调到其他组或月份", "调整走访 单位 组名 月份",
                topic="走访"))
    add(Command("走访进度", progress, Right.OFFICE_VIEW, "走访覆盖率、各组进度和应走未走",
                "走访进度 [年份]", topic="走访"))
    add(Command("走访分组", list_groups, Right.OFFICE_VIEW, "查看走访分组", topic="走访"))

