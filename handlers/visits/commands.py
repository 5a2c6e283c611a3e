"""下沉式走访: 生成走访计划, 走访计划, 走访安排, 走访记录, 调整走访, 走访进度, 走访分组."""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from datetime import date
from typing import Any

from sqlmodel import select

from bot.context import Context, Incoming, Reply
from bot.dialogue import Flow
from bot.importing.fields import explain, parse_date, parse_id, parse_int, parse_year
from bot.render import Markdown, md_escape
from bot.router import Command, Router
from handlers.rectification.common import text_reply, usage
from handlers.rectification.sources import Draft, ProblemSource, ProblemSources
from models import PlannedVisit, Problem, Unit, VisitGroup, VisitRecord
from models.accounts.roles import Right
from models.rectification.rules import local_today
from models.staffing.unit_match import match_units
from models.visits.ops import (
    build_instance,
    check_move,
    current_plan,
    group_people,
    plan_for,
    plan_visits,
    save_plan,
    split_ids,
)
from models.visits.roster import Q1_LAST_MONTH, plan_roster


def _md(lines: list[str]) -> Reply:
    return text_reply(Markdown("\n".join(lines)))


async def _units_and_groups(session: Any) -> tuple[dict[int, Unit], dict[int, VisitGroup]]:
    units = {u.id: u for u in (await session.exec(select(Unit))).all()}
    groups = {g.id: g for g in (await session.exec(select(VisitGroup))).all()}
    return units, groups


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
    async with ctx.db.read() as session:
        instance, groups = await build_instance(session, year, from_month, today)
    if not groups:
        return text_reply("还没有走访分组。请先导入分组：python -m bot -c config.toml import groups 文件"
                          "（格式见 docs/import-formats.md）。", "invalid")
    limit = ctx.services.config.visits.time_limit_seconds
    result = await asyncio.to_thread(plan_roster, instance, limit)
    if result.status == "infeasible":
        return _md([f"#### {year} 年走访计划无法生成", "", *[f"- {md_escape(p)}" for p in result.problems]])
    async with ctx.db.write() as session:
        plan = await save_plan(session, year, result, from_month, ctx.account.id if ctx.account else None)
    async with ctx.db.read() as session:
        units, _ = await _units_and_groups(session)
    quality = "已证明是最优方案" if result.optimal else (
        f"与理论最优的差距不超过 {100 * (result.objective - result.bound) / max(result.objective, 1):.0f}%")
    loads = Counter(g for g, _ in result.assignments.values())
    repeat = sum(1 for u in instance.units if u.last_year_group is not None
                 and result.assignments.get(u.id, (None, 0))[0] == u.last_year_group)
    lines = [f"#### {year} 年走访计划已生成（第 {plan.id} 版）", "",
             f"- {len(result.assignments)} 个单位，{len(groups)} 个组，每组每月不超过 3 家；{quality}（用时 "
             f"{result.seconds:.1f} 秒）",
             "- 各组全年走访：" + "，".join(f"{md_escape(g.name)} {loads[g.id or 0]} 家" for g in groups),
             _priority_line(instance, result.assignments, units),
             f"- 由去年同一组再次走访的单位：{repeat} 个",
             *_town_lines(result.assignments, units, groups)]
    if from_month > 1:
        lines.append(f"- {from_month} 月之前的安排和已走访的单位保持不变")
    lines += [f"- 注意：{md_escape(p)}" for p in result.problems]
    lines += ["", f"发送 走访计划 {year} 组名 / N月 / 单位 查看，导出走访计划 获取 Excel。"]
    return _md(lines)


def _priority_line(instance: Any, assignments: dict[int, tuple[int, int]], units: dict[int, Unit]) -> str:
    """重点单位 (open red problem or severe warning) should be visited in the first quarter."""
    first = {u.id for u in instance.units if u.priority}
    if not first:
        return "- 目前没有重点单位（有红灯问题或严重预警的单位）"
    late = [units[u].label for u, (_, month) in assignments.items() if u in first and month > Q1_LAST_MONTH]
    if not late:
        return "- 重点单位（有红灯问题或严重预警）都排在一季度"
    return f"- 重点单位没能排进一季度的：{md_escape('、'.join(late[:5]))}{'等' if len(late) > 5 else ''} {len(late)} 个"


def _town_lines(assignments: dict[int, tuple[int, int]], units: dict[int, Unit],
                groups: list[VisitGroup]) -> list[str]:
    """Where a group has to go to more than one 乡镇 in a month, in the office's words."""
    towns: dict[tuple[int, int], set[str]] = defaultdict(set)
    for unit_id, slot in assignments.items():
        towns[slot].add(units[unit_id].town or "（未填乡镇）")
    names = {g.id: g.name for g in groups}
    spread = sorted((slot for slot, t in towns.items() if len(t) > 1), key=lambda s: (s[1], names.get(s[0], "")))
    if not spread:
        return ["- 每组每个月走访的单位都在同一个乡镇"]
    shown = [f"{md_escape(names.get(g, ''))}{m}月要跑{_count_word(len(towns[g, m]))}乡镇（"
             f"{md_escape('、'.join(sorted(towns[g, m])))}）" for g, m in spread[:5]]
    more = f"等 {len(spread)} 处" if len(spread) > 5 else ""
    return [f"- 一个月要跑几个乡镇的：{'；'.join(shown)}{more}"]


def _count_word(n: int) -> str:
    return {2: "两个", 3: "三个"}.get(n, f"{n}个")


def _year_arg(text: str) -> tuple[int | None, str]:
    """`2027 第一组` / `2027年` → (2027, rest); no year → (None, text)."""
    m = re.match(r"^(20\d{2})\s*年?\s*(.*)$", text.strip())
    return (int(m.group(1)), m.group(2).strip()) if m else (None, text.strip())


def _which_year(plan_year: int, asked: int | None, today: date, command: str) -> list[str]:
    """Say why another year than the current one is shown."""
    if asked is not None or plan_year == today.year:
        return []
    return [f"（{today.year} 年还没有走访计划，显示的是 {plan_year} 年；查看其他年份请发送 {command} 年份）", ""]


async def show_plan(msg: Incoming, ctx: Context) -> Reply:
    """走访计划 [年份] [组名|本月|下月|N月|单位]: the year that has a plan unless one is named, always said."""
    today = local_today(ctx.services.clock())
    asked, arg = _year_arg(ctx.args)
    async with ctx.db.read() as session:
        plan = await plan_for(session, asked, today)
        if plan is None:
            return text_reply(f"{asked} 年还没有走访计划。发送 生成走访计划 {asked} 生成。" if asked else
                              "还没有走访计划。发送 生成走访计划 年份 生成。", "not_found")
        units, groups = await _units_and_groups(session)
        visits = await plan_visits(session, plan)
        month_arg = re.fullmatch(r"(\d{1,2})\s*月", arg)
        found = [] if not arg or arg in ("本月", "下月") or month_arg else await match_units(session, arg)
    by_group = {g.name: gid for gid, g in groups.items()}
    note = _which_year(plan.year, asked, today, "走访计划")
    if arg in by_group:
        chosen = [v for v in visits if v.group_id == by_group[arg]]
        title = f"{plan.year} 年走访计划 · {arg}"
    elif arg in ("本月", "下月", "") or month_arg:
        if month_arg:
            month = int(month_arg.group(1))
        elif plan.year > today.year:
            month = min((v.month for v in visits), default=1)
            note = [f"（{today.year} 年没有走访计划；下面是 {plan.year} 年计划中最早的一个月：{month} 月）", ""]
        else:
            month = today.month % 12 + 1 if arg == "下月" else today.month
        chosen = [v for v in visits if v.month == month]
        title = f"{plan.year} 年 {month} 月走访安排"
    elif found:
        ids = {u.id for u in found}
        chosen = [v for v in visits if v.unit_id in ids]
        title = f"{plan.year} 年 {'、'.join(u.label for u in found)}的走访安排"
    else:
        return usage(f"没有找到组或单位“{arg}”。", "走访计划 [年份] [组名|本月|N月|单位]")
    chosen.sort(key=lambda v: (v.month, groups[v.group_id].name, v.unit_id))
    lines = [f"#### {md_escape(title)}", "", *note]
    lines += [f"- {v.month}月 {md_escape(groups[v.group_id].name)}：{md_escape(units[v.unit_id].label)}"
              f"{'（' + v.scheduled_on.isoformat() + '）' if v.scheduled_on else ''}" for v in chosen[:60]]
    if len(chosen) > 60:
        lines.append(f"……另有 {len(chosen) - 60} 家，请导出走访计划查看。")
    if not chosen and found:
        return _md([*lines, f"{plan.year} 年的走访计划里没有这个单位（不纳入走访的单位不排计划）。"])
    return _md(lines if chosen else [*lines, "没有安排。"])


async def _one_unit(session: Any, text: str) -> Unit | str:
    units = await match_units(session, text)
    if len(units) == 1:
        return units[0]
    return f"没有找到单位“{text}”。" if not units else f"“{text}”对应多个单位：{'、'.join(u.name for u in units)}。"


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
        if isinstance(unit, str):
            return text_reply(unit, "not_found")
        plan = await current_plan(session, day.year)
        visit = (await session.exec(select(PlannedVisit).where(
            PlannedVisit.plan_id == plan.id, PlannedVisit.unit_id == unit.id))).first() if plan else None
    if visit is None:
        return text_reply(f"{day.year} 年的走访计划里没有 {unit.label}。", "not_found")
    data = {"visit": visit.id, "unit": unit.label, "day": day.isoformat()}
    if not (await ctx.services.calendar()).is_workday(day):  # a rest day: ask before fixing it
        return await ctx.services.dialogues.start(msg, ctx, ARRANGE_FLOW.name, data)
    return await _fix_day(msg, ctx, data)


async def _fix_day(msg: Incoming, ctx: Context, data: dict[str, Any]) -> Reply:
    day = date.fromisoformat(data["day"])
    async with ctx.db.write() as session:
        visit = await session.get(PlannedVisit, data["visit"])
        if visit is None:
            return text_reply("这项走访安排已不在计划中，请重新发送 走访安排。", "not_found")
        visit.scheduled_on = day
        session.add(visit)
    return text_reply(f"已安排 {day} 走访 {data['unit']}，前一个工作日会提醒组员。")


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
        if isinstance(unit, str):
            return text_reply(unit, "not_found")
        plan = await current_plan(session, today.year)
        planned = (await session.exec(select(PlannedVisit).where(
            PlannedVisit.plan_id == plan.id, PlannedVisit.unit_id == unit.id))).first() if plan else None
        record = VisitRecord(unit_id=unit.id, group_id=planned.group_id if planned else None, visited_on=today,  # type: ignore[arg-type]
                             who=ctx.account.name if ctx.account else "", findings=findings.strip()[:4000],
                             recorded_by=ctx.account.id if ctx.account else None, created_at=ctx.services.clock())
        session.add(record)
        await session.flush()
    return text_reply(f"已记录走访 {unit.label}（记录号 ZF{record.id}）。"
                      f"发现的问题可发送 转整改 ZF{record.id} 期限 转为整改问题。")


async def visit_draft(msg: Incoming, ctx: Context, token: str) -> Draft | Reply:
    """转整改 ZF<记录号>: a finding of a visit as a problem draft (source 下沉走访), linked both ways."""
    try:
        number: int | None = parse_id(token.upper().removeprefix("ZF"), "走访记录号")
    except ValueError:
        number = None
    async with ctx.db.read() as session:
        record = await session.get(VisitRecord, number) if number is not None else None
    if record is None:
        return text_reply(f"没有找到走访记录“{token}”。", "not_found")
    if record.problem_id is not None:
        return text_reply(f"走访记录 ZF{record.id} 已转为整改问题。")

    async def link(session: Any, problem: Problem) -> None:
        row = await session.get(VisitRecord, record.id)
        row.problem_id = problem.id
        session.add(row)

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
        if isinstance(unit, str):
            return text_reply(unit, "not_found")
        group = (await session.exec(select(VisitGroup).where(VisitGroup.name == parts[-2]))).first()
        if group is None:
            return text_reply(f"没有名为“{parts[-2]}”的走访组。", "not_found")
        plan = await current_plan(session, today.year) or await current_plan(session, today.year + 1)
        visit = (await session.exec(select(PlannedVisit).where(
            PlannedVisit.plan_id == plan.id, PlannedVisit.unit_id == unit.id))).first() if plan else None
        if plan is None or visit is None:
            return text_reply(f"当前走访计划里没有 {unit.label}。", "not_found")
        check = await check_move(session, plan, unit.id, group, month)  # type: ignore[arg-type]
        if not check.ok:
            return text_reply(f"不能调整：{check.reason}。", "invalid")
        visit.group_id, visit.month, visit.scheduled_on = group.id, month, None  # type: ignore[assignment]
        session.add(visit)
    return text_reply(f"已将 {unit.label} 调整到 {group.name} {plan.year} 年 {month} 月走访。")


async def progress(msg: Incoming, ctx: Context) -> Reply:
    """走访进度 [年份]: coverage, per group, behind plan — of the year that has a plan unless one is named."""
    today = local_today(ctx.services.clock())
    asked, _ = _year_arg(ctx.args)
    async with ctx.db.read() as session:
        plan = await plan_for(session, asked, today)
        if plan is None:
            return text_reply(f"{asked or today.year} 年还没有走访计划。发送 生成走访计划 年份 生成。", "not_found")
        units, groups = await _units_and_groups(session)
        visits = await plan_visits(session, plan)
        done = set((await session.exec(select(VisitRecord.unit_id).where(
            VisitRecord.visited_on >= date(plan.year, 1, 1), VisitRecord.visited_on <= date(plan.year, 12, 31)))).all())
    month_now = 13 if plan.year < today.year else today.month if plan.year == today.year else 0
    behind = [v for v in visits if v.month < month_now and v.unit_id not in done]
    per_group: dict[int, Counter[str]] = defaultdict(Counter)
    for v in visits:
        per_group[v.group_id]["planned"] += 1
        per_group[v.group_id]["done"] += v.unit_id in done
    lines = [f"#### {plan.year} 年走访进度", "", *_which_year(plan.year, asked, today, "走访进度"),
             f"已走访 {len(done & {v.unit_id for v in visits})} / {len(visits)} 个计划内单位；"
             f"应走未走 {len(behind)} 家", ""]
    lines += [f"- {md_escape(groups[g].name)}：已走访 {c['done']} / 计划 {c['planned']} 家"
              for g, c in sorted(per_group.items())]
    if behind:
        lines += ["", "**应走未走（有年内走不到的风险）**", ""]
        lines += [f"- {v.month}月 {md_escape(groups[v.group_id].name)}：{md_escape(units[v.unit_id].label)}"
                  for v in sorted(behind, key=lambda v: v.month)[:20]]
    return _md(lines)


async def list_groups(msg: Incoming, ctx: Context) -> Reply:
    """走访分组: names (not user ids), blocked months and 回避 units by name."""
    from models import Account

    async with ctx.db.read() as session:
        groups = (await session.exec(select(VisitGroup).where(VisitGroup.active == True))).all()  # noqa: E712
        people = {p for g in groups for p in group_people(g)}
        names = {a.user_id: a.name for a in (await session.exec(select(Account).where(
            Account.user_id.in_(people)))).all()}  # type: ignore[attr-defined]
        units, _ = await _units_and_groups(session)
    if not groups:
        return text_reply("还没有走访分组。请导入：python -m bot -c config.toml import groups 文件。")

    def who(user_id: str) -> str:
        return md_escape(names[user_id]) if user_id in names else f"`{user_id}`（未开通账号）"

    lines = ["#### 走访分组", ""]
    for g in groups:
        members = [who(m) for m in split_ids(g.member_user_ids)]
        avoid = [units[int(u)].label for u in split_ids(g.avoid_unit_ids) if int(u) in units]
        lines.append(f"- {md_escape(g.name)}：组长 {who(g.leader_user_id)}"
                     f"{'，组员 ' + '、'.join(members) if members else ''}"
                     f"{'；' + g.blocked_months.replace(',', '、') + '月不走访' if g.blocked_months else ''}"
                     f"{'；回避 ' + md_escape('、'.join(avoid)) if avoid else ''}")
    return _md(lines)


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

