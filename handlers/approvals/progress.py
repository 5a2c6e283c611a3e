"""审批进度: 进度 <编号|名称>, 我的审批, 审批 <单位|超时|今日>, 纪实, 订阅/退订审批通知."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_
from sqlmodel import select

from bot.context import Button, Context, Incoming, Reply
from bot.notify import notify_users
from bot.render import Markdown, md_code, md_escape
from bot.router import Command, Router
from handlers.rectification.common import scope_unit, text_reply, usage
from models import Account, ApprovalEvent, ApprovalItem, ApprovalOptOut, Unit
from models.accounts.roles import Right
from models.approvals.tables import IN_PROGRESS
from models.base import to_local
from models.calendar.workdays import WorkCalendar
from models.rectification.rules import LIGHT_ICONS, days_phrase, light, local_today
from models.staffing.unit_match import match_units

TIME_LIMIT = 10  # working days for a daily item (local practice; docs/rules.md)
STUCK_DAYS = 3  # working days in one stage before 催办


def _scoped(query: Any, ctx: Context) -> Any:
    unit_id = scope_unit(ctx)
    return query if unit_id is None else query.where(ApprovalItem.unit_id == unit_id)


def item_view(item: ApprovalItem, unit: Unit, cal: WorkCalendar, ctx: Context,
              handler: Account | None = None) -> dict[str, Any]:
    today = local_today(ctx.services.clock())
    end = item.completed_on or today
    deadline = cal.add_workdays(item.submitted_on, TIME_LIMIT)
    colour = light(cal, deadline, today, "已销号" if item.completed_on else item.status, ctx.services.rules)
    stage_days = cal.workdays_between(local_today(item.stage_since), end)
    return {
        "number": item.number, "type": item.type, "title": item.title, "unit": unit.label, "stage": item.stage,
        "status": item.status,
        "handler": item.handler_name or (md_code(item.handler_user_id) if item.handler_user_id else "（未指定）"),
        "mobile": handler.mobile if handler else "", "icon": LIGHT_ICONS[colour],
        "total_days": max(0, cal.workdays_between(item.submitted_on, end)), "stage_days": max(0, stage_days),
        "limit": TIME_LIMIT, "limit_phrase": days_phrase(cal.workdays_between(today, deadline)),
        "done": item.completed_on is not None,
        "submitted": to_local(item.submitted_at).strftime("%Y-%m-%d %H:%M"),
        "frozen": unit.frozen_since is not None and scope_unit(ctx) is None,
    }


async def progress(msg: Incoming, ctx: Context) -> Reply:
    if not ctx.args:
        return usage("请写上事项编号或名称。", "进度 事项编号", "进度 SP-2026-0012")
    reply = await _progress(ctx, ctx.raw_args.strip())
    hint = f"没有找到审批事项“{ctx.raw_args.strip()}”。发送 我的审批 查看本单位的事项。"
    return reply or text_reply(hint, "not_found")


async def progress_fallback(msg: Incoming, ctx: Context) -> Reply | None:
    """A message that is just an item number means 进度 <号>."""
    if ctx.account is None or not ctx.can(Right.PROBLEM_VIEW) or " " in msg.text.strip():
        return None
    return await _progress(ctx, msg.text.strip(), exact_only=True)


async def _progress(ctx: Context, text: str, exact_only: bool = False) -> Reply | None:
    cal = await ctx.services.calendar()
    async with ctx.db.read() as session:
        item = (await session.exec(_scoped(select(ApprovalItem).where(
            ApprovalItem.number == text.upper()), ctx))).first() or (await session.exec(_scoped(select(
                ApprovalItem).where(ApprovalItem.number == text), ctx))).first()
        if item is None and not exact_only:
            found = (await session.exec(_scoped(select(ApprovalItem).where(
                ApprovalItem.title.contains(text)), ctx).order_by(ApprovalItem.submitted_at.desc()).limit(6))).all()
            if len(found) > 1:
                names = "\n".join(f"- {i.number} {i.title}（{i.stage}）" for i in found[:5])
                return text_reply(f"找到多个事项，请发送 进度 编号：\n\n{names}")
            item = found[0] if found else None
        if item is None:
            return None
        unit = await session.get(Unit, item.unit_id)
        handler = (await session.exec(select(Account).where(Account.user_id == item.handler_user_id))).first() \
            if item.handler_user_id else None
        events = (await session.exec(select(ApprovalEvent).where(ApprovalEvent.item_id == item.id)
                                     .order_by(ApprovalEvent.at, ApprovalEvent.id))).all()
    steps = [{"at": to_local(e.at).strftime("%Y-%m-%d %H:%M"), "kind": e.kind, "stage": e.stage,
              "status": e.status, "handler": e.handler_name, "detail": e.detail} for e in events]
    reachable = item.handler_user_id and item.status == IN_PROGRESS
    buttons = [Button("联系经办人", f"联系经办人 {item.number}")] if reachable else []
    return Reply("approval_progress.md.j2", item_view(item, unit, cal, ctx, handler) | {"events": steps},
                 buttons=buttons)


async def contact_handler(msg: Incoming, ctx: Context) -> Reply:
    """联系经办人 <编号>: the handler gets a message from the bot naming who asks and how to reach them
    (点对点精准联系, seed 002); the asker is told who was contacted."""
    number = ctx.raw_args.strip()
    if not number:
        return usage("请写上事项编号。", "联系经办人 事项编号", "联系经办人 SP-2026-0012")
    async with ctx.db.write() as session:
        item = (await session.exec(_scoped(select(ApprovalItem).where(
            ApprovalItem.number.in_((number, number.upper()))), ctx))).first()  # type: ignore[attr-defined]
        if item is None or not item.handler_user_id:
            return text_reply(f"没有找到在办的审批事项“{number}”或它没有经办人。", "not_found")
        assert ctx.account is not None
        who = f"{ctx.unit.name if ctx.unit else ''} {ctx.account.name}".strip()
        phone = f"（电话 {ctx.account.mobile}）" if ctx.account.mobile else ""
        await notify_users(session, ctx.services.renderer, kind="approval.contact",
                           key=f"{item.id}:{msg.msg_id}", user_ids=[item.handler_user_id], template="message.md.j2",
                           data={"text": f"{who}{phone}想了解审批事项 {item.number}「{item.title}」的办理情况"
                                         f"（当前环节：{item.stage}），请与其联系。"})
    who = md_escape(item.handler_name) if item.handler_name else md_code(item.handler_user_id)
    return text_reply(Markdown(f"已请经办人 {who} 与您联系。"))


async def unit_items(msg: Incoming, ctx: Context) -> Reply:
    """我的审批: the unit's open items and the last 30 days' completed ones."""
    assert ctx.unit is not None
    return await _list(ctx, [ctx.unit], f"{ctx.unit.label}的审批事项")


async def office_items(msg: Incoming, ctx: Context) -> Reply:
    """审批 <单位> | 超时 | 今日."""
    arg = ctx.args.strip()
    if arg in ("超时", "超期", "卡住"):
        return await _list(ctx, None, "超时和环节滞留的审批事项", stuck=True)
    if arg in ("今日", "今天"):
        return await _list(ctx, None, "今日审批", today=True)
    if not arg:
        return usage("请写上单位，或 超时、今日。", "审批 单位|超时|今日", "审批 教育局")
    async with ctx.db.read() as session:
        units = await match_units(session, arg)
    if not units:
        return text_reply(f"没有找到单位“{arg}”。", "not_found")
    return await _list(ctx, units, f"{'、'.join(u.label for u in units)}的审批事项")


async def _list(ctx: Context, units: list[Unit] | None, title: str, *, stuck: bool = False,
                today: bool = False) -> Reply:
    cal, now = await ctx.services.calendar(), ctx.services.clock()
    day = local_today(now)
    query = select(ApprovalItem, Unit).join(Unit)
    if units is not None:
        query = query.where(ApprovalItem.unit_id.in_([u.id for u in units]))  # type: ignore[attr-defined]
    if today:
        query = query.where(or_(ApprovalItem.submitted_on == day, ApprovalItem.completed_on == day))
    else:
        recent = day - timedelta(days=30)
        query = query.where(or_(ApprovalItem.status == IN_PROGRESS, ApprovalItem.completed_on >= recent))
    async with ctx.db.read() as session:
        rows = (await session.exec(query.order_by(ApprovalItem.submitted_at.desc()).limit(500))).all()
    views = [item_view(i, u, cal, ctx) for i, u in rows]
    if stuck:  # two separate questions: past the time limit, or stalled in one stage while within it
        open_ = [v for v in views if not v["done"]]
        overdue = [v for v in open_ if v["total_days"] > v["limit"]]
        stalled = [v for v in open_ if v["total_days"] <= v["limit"] and v["stage_days"] > STUCK_DAYS]
        return Reply("approval_list.md.j2", {"title": title, "overdue": overdue[:20], "stalled": stalled[:20],
                                             "stuck_days": STUCK_DAYS, "limit": TIME_LIMIT, "open": [], "done": [],
                                             "more": max(0, len(overdue) - 20) + max(0, len(stalled) - 20)})
    open_ = [v for v in views if not v["done"]]
    done = [v for v in views if v["done"]]
    return Reply("approval_list.md.j2", {"title": title, "open": open_[:20], "done": done[:10],
                                         "more": max(0, len(open_) - 20) + max(0, len(done) - 10)})


async def record_note(msg: Incoming, ctx: Context) -> Reply:
    """纪实 <编号> <环节> <说明>: a 全程纪实 step recorded by office staff."""
    parts = ctx.raw_args.split(maxsplit=2)
    if len(parts) < 3:
        example = "纪实 SP-2026-0003 衔接 已与组织部沟通人选"
        return usage("请写上事项编号、环节和说明。", "纪实 事项编号 环节 说明", example)
    number, stage, detail = parts
    async with ctx.db.write() as session:
        item = (await session.exec(select(ApprovalItem).where(ApprovalItem.number == number.upper()))).first() or (
            await session.exec(select(ApprovalItem).where(ApprovalItem.number == number))).first()
        if item is None:
            return text_reply(f"没有找到审批事项“{number}”。", "not_found")
        session.add(ApprovalEvent(item_id=item.id, at=ctx.services.clock(), kind="纪实", stage=stage[:40],  # type: ignore[arg-type]
                                  detail=detail[:2000], handler_name=ctx.account.name if ctx.account else "",
                                  actor_account_id=ctx.account.id if ctx.account else None, source="chat"))
    return text_reply(f"已记入 {item.number} 的全程纪实：{stage}。")


async def subscribe(msg: Incoming, ctx: Context) -> Reply:
    return await _set_opt_out(ctx, False)


async def unsubscribe(msg: Incoming, ctx: Context) -> Reply:
    return await _set_opt_out(ctx, True)


async def _set_opt_out(ctx: Context, out: bool) -> Reply:
    assert ctx.account is not None
    async with ctx.db.write() as session:
        await session.exec(delete(ApprovalOptOut).where(ApprovalOptOut.account_id == ctx.account.id))  # type: ignore[call-overload]
        if out:
            session.add(ApprovalOptOut(account_id=ctx.account.id))  # type: ignore[arg-type]
    return text_reply("已退订审批进度通知，需要时发送 订阅审批通知 恢复。" if out else "已订阅审批进度通知。")


def register(router: Router) -> None:
    add = router.add
    add(Command("进度", progress, Right.PROBLEM_VIEW, "查询审批事项办到哪个环节、谁在办", "进度 事项编号或名称",
                aliases=("审批进度", "查进度", "查询进度", "办理进度"), topic="审批"))
    add(Command("联系经办人", contact_handler, Right.PROBLEM_VIEW, "请审批经办人与您联系", "联系经办人 事项编号",
                topic="审批"))
    add(Command("我的审批", unit_items, Right.UNIT_OWN, "本单位在办和近30天办结的审批事项", aliases=("本单位审批",),
                topic="审批"))
    add(Command("审批", office_items, Right.OFFICE_VIEW, "按单位查看审批，或查看超时、今日事项", "审批 单位|超时|今日",
                topic="审批"))
    add(Command("纪实", record_note, Right.OFFICE_HANDLE, "为重大事项记录全程纪实", "纪实 事项编号 环节 说明",
                topic="审批"))
    add(Command("退订审批通知", unsubscribe, Right.UNIT_OWN, "不再接收审批进度通知", topic="审批"))
    add(Command("订阅审批通知", subscribe, Right.UNIT_OWN, "恢复接收审批进度通知", topic="审批"))
    router.fallbacks.append(progress_fallback)
