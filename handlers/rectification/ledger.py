"""整改 for the office: 交办 (one line or guided), 台账, 销号, 退回, 同意延期 / 拒绝延期, 导出台账."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from bot.context import Button, Context, Incoming, Reply
from bot.dialogue import Flow, Invalid, Step, unit_step
from bot.importing.fields import explain
from bot.render import md_escape
from bot.router import Command, Router
from handlers.rectification.common import (
    not_found,
    parse_deadline,
    problem_in_scope,
    problem_unit,
    push,
    status,
    unit_people,
    usage,
    view,
)
from models import Problem
from models.accounts.roles import Right, Role
from models.outbox import enqueue, user_recipient
from models.rectification.ops import accept, create_problem, decide_extension, pending_extension, send_back
from models.rectification.queries import open_problems_with_units
from models.rectification.rules import GREEN, RED, YELLOW, deadline_text, local_today
from models.rectification.tables import CLOSED, IN_REVIEW, SOURCES
from models.staffing.unit_match import match_units
from models.staffing.watchlist import watched_unit_ids

ASSIGN_USAGE = "交办 单位 来源 期限 问题描述[；要求：整改要求]"
ASSIGN_EXAMPLE = "交办 教育局 巡察 15个工作日 超编借调人员3名；要求：一个月内清退"
OnClosed = Callable[[Any, Context, Problem], Awaitable[None]]
LIGHT_FILTERS = {"红灯": RED, "红": RED, "黄灯": YELLOW, "黄": YELLOW, "绿灯": GREEN, "绿": GREEN}


async def assign(msg: Incoming, ctx: Context) -> Reply:
    """`交办` alone starts the guided dialogue; with arguments it is the one-line form."""
    if not ctx.args:
        return await ctx.services.dialogues.start(msg, ctx, ASSIGN_FLOW.name)
    parts = ctx.raw_args.split(maxsplit=3)
    if len(parts) < 4:
        return usage("交办需要单位、来源、期限和问题描述（只发送“交办”可以按步骤填写）。", ASSIGN_USAGE, ASSIGN_EXAMPLE)
    unit_text, source, when, rest = parts
    description, requirement = rest, ""
    split = re.split(r"[;；]\s*要求[:：]?", rest, maxsplit=1)
    if len(split) == 2:
        description, requirement = split
    data: dict[str, Any] = {}
    try:
        data["unit"] = await _parse_unit(unit_text, msg, ctx, data)
        data["source"] = await _parse_source(source, msg, ctx, data)
        data["deadline"] = await parse_when(when, msg, ctx, data)
    except Invalid as e:
        return usage(str(e), ASSIGN_USAGE, ASSIGN_EXAMPLE)
    data.update(description=description.strip(), requirement=requirement.strip())
    return await assign_problem(msg, ctx, data)


_parse_unit = unit_step("")


async def _parse_source(text: str, msg: Incoming, ctx: Context, data: dict[str, Any]) -> str:
    word = text.strip()
    if word not in SOURCES:
        raise Invalid(f"问题来源应为：{'、'.join(SOURCES)}。")
    return word


async def parse_when(text: str, msg: Incoming, ctx: Context, data: dict[str, Any]) -> str:
    cal = await ctx.services.calendar()
    try:
        return parse_deadline(text, cal, local_today(ctx.services.clock())).isoformat()
    except ValueError as e:
        raise Invalid(f"{explain('期限', text, e)}。可写日期（2026-12-31）或工作日数（15个工作日）。") from None


async def _parse_text(text: str, msg: Incoming, ctx: Context, data: dict[str, Any]) -> str:
    if len(text.strip()) < 2:
        raise Invalid("内容太短了，请写清楚一些。")
    return text.strip()[:2000]


def _summary(data: dict[str, Any]) -> str:
    lines = [f"- 单位：{md_escape(data['unit_name'])}", f"- 来源：{md_escape(data['source'])}",
             f"- 问题：{md_escape(data['description'])}", f"- 要求：{md_escape(data.get('requirement') or '（无）')}",
             f"- 期限：{md_escape(data['deadline'])}"]
    return "\n".join(lines)


async def _finish_assign(msg: Incoming, ctx: Context, data: dict[str, Any]) -> Reply:
    return await assign_problem(msg, ctx, data)


async def assign_problem(msg: Incoming, ctx: Context, data: dict[str, Any], *, origin: str = "",
                         on_created: Callable[[Any, Problem], Awaitable[None]] | None = None) -> Reply:
    """Create a problem and tell the unit, in one transaction. `data`: unit (id), source, description,
    requirement, deadline (ISO date). Other capabilities (预警, 监督员反馈, 走访) call this for 转整改 and
    link themselves to the problem in `on_created`."""
    assert ctx.account is not None
    if len(data.get("description", "")) < 2:
        return usage("请写上问题描述。", ASSIGN_USAGE, ASSIGN_EXAMPLE)
    cal = await ctx.services.calendar()
    today = local_today(ctx.services.clock())
    deadline = date.fromisoformat(data["deadline"])
    provisional = cal.provisional_between(today, deadline)
    async with ctx.db.write() as session:
        problem = await create_problem(
            session, unit_id=data["unit"], source=data["source"], description=data["description"],
            requirement=data.get("requirement", ""), assigned_on=today, deadline=deadline, provisional=provisional,
            actor=ctx.account, origin=origin)
        if on_created is not None:
            await on_created(session, problem)
        unit = await problem_unit(session, problem)
        info = view(problem, unit, cal, today, ctx)
        users = await unit_people(session, problem.unit_id)
        await push(session, ctx, kind="problem.assigned", key=str(problem.id), users=users,
                   template="problem_assigned.md.j2", data=info,
                   buttons=[Button("查看详情", f"问题 {problem.number}"),
                            Button("申请延期", f"申请延期 {problem.number}")])
        if provisional:
            await _tell_admins_calendar(session, ctx, deadline.year)
    note = "" if users else "（该单位还没有联络员账号，交办通知未能送达，请电话告知。）"
    return Reply("problem_created.md.j2", info | {"notified": len(users), "note": note})


async def _tell_admins_calendar(session: Any, ctx: Context, year: int) -> None:
    """Once per year: deadlines past the official calendar data are provisional (暂定)."""
    from models.accounts.tables import accounts_with_role

    text = ctx.services.renderer.render("rectification_calendar_provisional.md.j2", {"year": year})
    for admin in await accounts_with_role(session, Role.ADMIN):
        await enqueue(session, dedup_key=f"calendar.provisional:{year}:{admin.user_id}", kind="calendar.provisional",
                      recipient=user_recipient(admin.user_id), msg_key="sampleMarkdown",
                      param={"title": "节假日安排待导入", "text": text})


async def ledger(msg: Incoming, ctx: Context) -> Reply:
    """台账 [红灯|黄灯|绿灯|单位]: open problems, reddest first."""
    cal, today = await ctx.services.calendar(), local_today(ctx.services.clock())
    arg = ctx.args.strip()
    async with ctx.db.read() as session:
        title, unit_ids = "整改台账（未销号）", None
        if arg and arg not in LIGHT_FILTERS:
            units = await match_units(session, arg)
            if not units:
                return status("unit_not_found", "not_found", unit=arg)
            unit_ids = [u.id for u in units if u.id is not None]
            title = f"{'、'.join(u.label for u in units)}的整改台账"
        rows = await open_problems_with_units(session, unit_ids=unit_ids)
        watched = await watched_unit_ids(session)  # 监管异常名录: marked
    views = [view(p, u, cal, today, ctx) | {"watched": u.id in watched} for p, u in rows]
    if arg in LIGHT_FILTERS:
        views = [v for v in views if v["colour"] == LIGHT_FILTERS[arg]]
        title = f"整改台账 · {arg.rstrip('灯')}灯"
    counts = {c: sum(v["colour"] == c for v in views) for c in (RED, YELLOW, GREEN)}
    return Reply("problem_list.md.j2", {
        "title": title, "rows": views[:30], "show_unit": True, "more": max(0, len(views) - 30), "counts": counts,
        "footer": "回复 问题 问题号 查看详情；导出台账 获取 Excel。",
    })


def reviewer(*, accepted: bool, on_closed: OnClosed | None = None) -> Callable[[Incoming, Context], Awaitable[Reply]]:
    """销号 (accepted) or 退回: `on_closed` tells the problem's source of a 销号 (the sources registry)."""

    async def handle(msg: Incoming, ctx: Context) -> Reply:
        return await _review(msg, ctx, accepted=accepted, on_closed=on_closed)

    return handle


async def _review(msg: Incoming, ctx: Context, *, accepted: bool, on_closed: OnClosed | None) -> Reply:
    word = "销号" if accepted else "退回"
    token, _, note = ctx.raw_args.partition(" ")
    if not token:
        return usage("请写上问题号。", f"{word} 问题号 {'[意见]' if accepted else '原因'}")
    if not accepted and not note.strip():
        return usage("退回需要写明原因，单位会看到。", "退回 问题号 原因", "退回 ZG-2026-0001 缺少清退文件")
    async with ctx.db.write() as session:
        problem = await problem_in_scope(session, ctx, token)
        if problem is None:
            return not_found(token)
        if problem.status == CLOSED:
            return status("already_closed", number=problem.number)
        if problem.status != IN_REVIEW and not accepted:
            return status("not_reported", number=problem.number, status=problem.status)
        assert ctx.account is not None
        if accepted:
            await accept(session, problem, ctx.account, note.strip())
        else:
            await send_back(session, problem, ctx.account, note.strip())
        data = {"number": problem.number, "accepted": accepted, "note": note.strip(), "who": ctx.account.name,
                "description": problem.description}
        await push(session, ctx, kind=f"problem.{'closed' if accepted else 'returned'}",
                   key=f"{problem.id}:{problem.revision}", users=await unit_people(session, problem.unit_id),
                   template="problem_reviewed.md.j2", data=data)
        if accepted and on_closed is not None:
            await on_closed(session, ctx, problem)
    return status("reviewed", number=problem.number, word=word)


async def approve_extension(msg: Incoming, ctx: Context) -> Reply:
    return await _decide_extension(msg, ctx, approved=True)


async def refuse_extension(msg: Incoming, ctx: Context) -> Reply:
    return await _decide_extension(msg, ctx, approved=False)


async def _decide_extension(msg: Incoming, ctx: Context, *, approved: bool) -> Reply:
    word = "同意延期" if approved else "拒绝延期"
    token, _, note = ctx.raw_args.partition(" ")
    if not token:
        return usage("请写上问题号。", f"{word} 问题号 {'[意见]' if approved else '原因'}")
    cal = await ctx.services.calendar()
    async with ctx.db.write() as session:
        problem = await problem_in_scope(session, ctx, token)
        if problem is None:
            return not_found(token)
        req = await pending_extension(session, problem)
        if req is None:
            return status("no_extension", "invalid", number=problem.number)
        assert ctx.account is not None
        provisional = cal.provisional_between(problem.assigned_on, req.requested_deadline)
        await decide_extension(session, problem, req, ctx.account, approved=approved, note=note.strip(),
                               provisional=provisional)
        data = {"number": problem.number, "approved": approved, "deadline": deadline_text(cal, problem.deadline),
                "note": note.strip(), "provisional": problem.deadline_provisional}
        await push(session, ctx, kind="problem.extension_decided", key=str(req.id),
                   users=await unit_people(session, problem.unit_id), template="extension_decided.md.j2", data=data)
    return status("extension_decided", number=problem.number, approved=approved)


ASSIGN_FLOW = Flow(
    name="problem.assign", title="交办问题",
    steps=(
        Step("unit", "请发送被交办的单位（全称或简称）：", _parse_unit),
        Step("source", "问题来源是？请回复序号或名称：", _parse_source, choices=SOURCES),
        Step("description", "请描述问题：", _parse_text, free_text=True),
        Step("requirement", "整改要求是？", _parse_text, optional=True, free_text=True),
        Step("deadline", "整改期限？可写日期（2026-12-31）或工作日数（15个工作日）：", parse_when),
    ),
    summary=_summary, finish=_finish_assign,
)


def register(router: Router, on_closed: OnClosed | None = None) -> None:
    router.add(Command("交办", assign, Right.OFFICE_HANDLE, "交办整改问题（只发“交办”可按步骤填写）", ASSIGN_USAGE,
                       aliases=("交办问题", "登记问题"), topic="整改"))
    router.add(Command("台账", ledger, Right.OFFICE_VIEW, "查看整改台账，可按灯色或单位筛选", "台账 [红灯|单位]",
                       aliases=("整改台账", "台帐", "整改台帐", "问题台账"), topic="整改"))
    router.add(Command("销号", reviewer(accepted=True, on_closed=on_closed), Right.OFFICE_HANDLE, "审核通过，问题销号",
                       "销号 问题号 [意见]", aliases=("同意销号",), topic="整改"))
    router.add(Command("退回", reviewer(accepted=False), Right.OFFICE_HANDLE, "退回整改报告", "退回 问题号 原因",
                       topic="整改"))
    router.add(Command("同意延期", approve_extension, Right.OFFICE_HANDLE, "同意延期申请", "同意延期 问题号 [意见]",
                       topic="整改"))
    router.add(Command("拒绝延期", refuse_extension, Right.OFFICE_HANDLE, "拒绝延期申请", "拒绝延期 问题号 原因",
                       topic="整改"))

