"""整改 for units: 整改 / 我的问题, 整改 <号> <说明> (with photos and files), 申请延期, and 问题 <号>."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from bot.context import Button, Context, Incoming, Reply
from bot.dialogue import Flow, Invalid, Step
from bot.files import keep_attachments
from bot.importing.fields import explain, parse_date, years_after
from bot.router import ATTACHMENT_MINUTES, ATTACHMENT_WINDOW, Command, Handler, Router
from handlers.rectification.common import (
    DEADLINE_YEARS,
    not_found,
    office_people,
    problem_in_scope,
    problem_unit,
    push,
    scope_unit,
    status,
    usage,
    view,
)
from models.accounts.roles import Right
from models.base import to_local
from models.rectification.ops import (
    add_attachments,
    history,
    open_problems,
    pending_extension,
    report,
    request_extension,
)
from models.rectification.queries import attachment_count, attachments, latest_report
from models.rectification.rules import deadline_text, local_today
from models.rectification.tables import CLOSED, IN_REVIEW

log = logging.getLogger(__name__)


async def my_problems(msg: Incoming, ctx: Context) -> Reply:
    """`整改` lists the unit's open problems; `整改 <号> <说明>` reports rectification."""
    if ctx.args:
        return await report_rectification(msg, ctx)
    assert ctx.unit is not None
    cal, today = await ctx.services.calendar(), local_today(ctx.services.clock())
    async with ctx.db.read() as session:
        problems = await open_problems(session, ctx.unit.id)
    rows = [view(p, ctx.unit, cal, today, ctx) for p in problems]
    return Reply("problem_list.md.j2", {
        "title": f"{ctx.unit.label}的整改问题", "rows": rows, "show_unit": False,
        "footer": "回复 整改 问题号 整改说明 报告整改情况（可随后发送照片或文件）；申请延期 问题号 新日期 理由。",
    })


async def report_rectification(msg: Incoming, ctx: Context) -> Reply:
    token, _, text = ctx.raw_args.partition(" ")
    text = text.strip()
    async with ctx.db.write() as session:
        problem = await problem_in_scope(session, ctx, token)
        if problem is None:
            return not_found(token)
        if problem.status == CLOSED:
            return status("closed_no_report", number=problem.number)
        if problem.status == IN_REVIEW:
            return status("in_review", number=problem.number)
        if not text:
            return usage("请写上整改说明。", "整改 问题号 整改说明", f"整改 {problem.number} 已清退借调人员3名")
        assert ctx.account is not None and ctx.unit is not None
        await report(session, problem, ctx.account, text[:2000])
        data = {"number": problem.number, "unit": ctx.unit.name, "who": ctx.account.name, "text": text}
        await push(session, ctx, kind="problem.reported", key=f"{problem.id}:{problem.revision}:{msg.msg_id}",
                   users=await office_people(session), template="problem_reported.md.j2", data=data,
                   buttons=[Button("销号", f"销号 {problem.number}"), Button("查看详情", f"问题 {problem.number}")])
    return status("reported", number=problem.number, minutes=ATTACHMENT_MINUTES)


async def claim_attachment(msg: Incoming, ctx: Context) -> tuple[datetime, Handler] | None:
    """Photos and files in single chat claimed for the sender's latest 整改报告 (of the last 30 minutes)."""
    if ctx.account is None or ctx.account.id is None or msg.is_group:
        return None
    async with ctx.db.read() as session:
        row = await latest_report(session, account_id=ctx.account.id,
                                  since=ctx.services.clock() - ATTACHMENT_WINDOW)
    if row is None:
        return None
    event, problem = row

    async def attach(msg: Incoming, ctx: Context) -> Reply:
        stored = await keep_attachments(ctx.services.api, ctx.services.config.storage_dir, msg.attachments,
                                        subdir=f"problems/{problem.number}",
                                        max_file_mb=ctx.services.config.storage.max_file_mb)
        if stored is None:
            return status("attachment_failed", "error")
        files = [{"kind": att.kind, "file_name": att.file_name or f.file_name, "path": f.path, "size": f.size,
                  "sha256": f.sha256} for att, f in zip(msg.attachments, stored, strict=True)]
        assert problem.id is not None
        async with ctx.db.write() as session:
            await add_attachments(session, problem=problem, event=event, files=files)
            count = await attachment_count(session, problem_id=problem.id)
        return status("attached", number=problem.number, count=count)

    return event.at, attach


async def unclaimed_attachment(msg: Incoming, ctx: Context) -> Reply:
    """Photos and files that no record claims: say how to attach them."""
    if ctx.account is None or msg.is_group:
        return Reply("no_text.md.j2", {"msgtype": msg.msgtype}, outcome="unknown")
    kind = {"picture": "图片", "file": "文件"}.get(msg.msgtype, "消息")
    return status("attachment_unclaimed", "unknown", what=kind)


EXTENSION_USAGE = "申请延期 问题号 新日期 理由"


async def ask_extension(msg: Incoming, ctx: Context) -> Reply:
    parts = ctx.raw_args.split(maxsplit=2)
    example = "申请延期 ZG-2026-0001 2026-12-31 需等待编委会研究"
    if len(parts) == 1:  # the 申请延期 button: ask for the date and the reason in a one-step dialogue
        async with ctx.db.read() as session:
            problem = await problem_in_scope(session, ctx, parts[0])
        if problem is None:
            return not_found(parts[0])
        if problem.status == CLOSED:
            return status("closed_no_extension", number=problem.number)
        return await ctx.services.dialogues.start(msg, ctx, EXTEND_FLOW.name,
                                                  {"number": problem.number, "deadline": problem.deadline.isoformat()})
    if len(parts) < 3:
        return usage("请写上问题号、新的期限和理由。", EXTENSION_USAGE, example)
    token, when, reason = parts
    try:
        new_deadline = parse_date(when, high=_latest(ctx))
    except ValueError as e:
        return usage(explain("日期", when, e), EXTENSION_USAGE, example)
    return await _request_extension(ctx, token, new_deadline, reason)


async def _parse_extension(text: str, msg: Incoming, ctx: Context, data: dict[str, Any]) -> dict[str, str]:
    when, _, reason = text.strip().partition(" ")
    try:
        day = parse_date(when, high=_latest(ctx))
    except ValueError as e:
        raise Invalid(f"{explain('日期', when, e)}。") from None
    if len(reason.strip()) < 2:
        raise Invalid("请在日期后写上延期理由。")
    return {"when": day.isoformat(), "reason": reason.strip()}


def _latest(ctx: Context) -> Any:
    return years_after(local_today(ctx.services.clock()), DEADLINE_YEARS)


async def _finish_extension(msg: Incoming, ctx: Context, data: dict[str, Any]) -> Reply:
    answer = data["request"]
    return await _request_extension(ctx, data["number"], date.fromisoformat(answer["when"]), answer["reason"])


EXTEND_FLOW = Flow(
    name="problem.extension", title="申请延期",
    steps=(Step("request", lambda d: f"{d['number']} 现在的期限是 {d['deadline']}。请发送新的期限和理由，"
                                     "例如：2026-12-31 需等待编委会研究", _parse_extension, free_text=True),),
    summary=lambda d: "", finish=_finish_extension, confirm=False,
)


async def _request_extension(ctx: Context, token: str, new_deadline: date, reason: str) -> Reply:
    cal = await ctx.services.calendar()
    async with ctx.db.write() as session:
        problem = await problem_in_scope(session, ctx, token)
        if problem is None:
            return not_found(token)
        if problem.status == CLOSED:
            return status("closed_no_extension", number=problem.number)
        if new_deadline <= problem.deadline:
            return status("extension_not_later", "invalid", deadline=problem.deadline)
        if await pending_extension(session, problem) is not None:
            return status("extension_pending", number=problem.number)
        assert ctx.account is not None
        req = await request_extension(session, problem, ctx.account, new_deadline, reason[:500])
        unit = await problem_unit(session, problem)
        data = {"number": problem.number, "unit": unit.name, "who": ctx.account.name,
                "old": deadline_text(cal, problem.deadline), "new": deadline_text(cal, new_deadline), "reason": reason}
        await push(session, ctx, kind="problem.extension", key=str(req.id), users=await office_people(session),
                   template="extension_requested.md.j2", data=data,
                   buttons=[Button("同意延期", f"同意延期 {problem.number}"),
                            Button("查看详情", f"问题 {problem.number}")])
    return status("extension_requested", number=problem.number, deadline=new_deadline)


async def show_problem(msg: Incoming, ctx: Context) -> Reply:
    if not ctx.args:
        return usage("请写上问题号。", "问题 问题号", "问题 ZG-2026-0001")
    token = ctx.raw_args.split()[0]
    cal, today = await ctx.services.calendar(), local_today(ctx.services.clock())
    async with ctx.db.read() as session:
        problem = await problem_in_scope(session, ctx, token)
        if problem is None:
            return not_found(token)
        unit = await problem_unit(session, problem)
        events = await history(session, problem)
        assert problem.id is not None
        files = await attachments(session, problem_id=problem.id)
    steps = [{"at": to_local(e.at).strftime("%Y-%m-%d %H:%M"), "who": e.actor_name, "action": e.action,
              "detail": e.detail if not e.detail.startswith("{") else ""} for e in events]
    data = view(problem, unit, cal, today, ctx) | {"events": steps, "attachments": len(files),
                                                  "office": scope_unit(ctx) is None}
    return Reply("problem_detail.md.j2", data)


def register(router: Router) -> None:
    router.add(Command("整改", my_problems, Right.UNIT_OWN, "查看本单位的整改问题；整改 问题号 说明 报告整改",
                       "整改 [问题号 说明]", aliases=("我的问题", "整改问题"), topic="整改"))
    router.add(Command("申请延期", ask_extension, Right.UNIT_OWN, "申请延长整改期限", EXTENSION_USAGE,
                       aliases=("延期申请", "延期"), topic="整改"))
    router.add(Command("问题", show_problem, Right.PROBLEM_VIEW, "查看问题详情和全程记录", "问题 问题号",
                       aliases=("问题详情",), topic="整改"))
