"""审批进度: 进度 <编号|名称>, 我的审批, 审批 <单位|超时|今日>, 纪实, 订阅/退订审批通知."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.context import Button, Context, Incoming, Reply
from bot.notify import notify_users
from bot.render import md_code
from bot.router import Command, Router
from handlers.rectification.common import scope_unit, usage
from models.accounts.roles import Right
from models.approvals.ops import record_note as add_note
from models.approvals.ops import set_opt_out
from models.approvals.queries import ItemRow, item_by_number, item_entity, item_events, items_titled, listed_items
from models.approvals.tables import IN_PROGRESS
from models.base import to_local
from models.calendar.workdays import WorkCalendar
from models.rectification.rules import LIGHT_ICONS, days_phrase, light, local_today
from models.staffing.unit_match import match_units
from models.staffing.units import Unit

TIME_LIMIT = 10  # working days for a daily item (local practice; docs/rules.md)
STUCK_DAYS = 3  # working days in one stage before 催办


def answer(kind: str, outcome: str = "ok", **data: Any) -> Reply:
    """The short answers of 审批 (approval_reply.md.j2)."""
    return Reply("approval_reply.md.j2", {"kind": kind, **data}, outcome=outcome)


def item_view(item: ItemRow, cal: WorkCalendar, ctx: Context) -> dict[str, Any]:
    today = local_today(ctx.services.clock())
    end = item.completed_on or today
    deadline = cal.add_workdays(item.submitted_on, TIME_LIMIT)
    colour = light(cal, deadline, today, "已销号" if item.completed_on else item.status, ctx.services.rules)
    stage_days = cal.workdays_between(local_today(item.stage_since), end)
    return {
        "number": item.number, "type": item.type, "title": item.title, "unit": item.unit_label, "stage": item.stage,
        "status": item.status,
        "handler": item.handler_name or (md_code(item.handler_user_id) if item.handler_user_id else "（未指定）"),
        "mobile": item.handler_mobile, "icon": LIGHT_ICONS[colour],
        "total_days": max(0, cal.workdays_between(item.submitted_on, end)), "stage_days": max(0, stage_days),
        "limit": TIME_LIMIT, "limit_phrase": days_phrase(cal.workdays_between(today, deadline)),
        "done": item.completed_on is not None,
        "submitted": to_local(item.submitted_at).strftime("%Y-%m-%d %H:%M"),
        "frozen": item.unit_frozen and scope_unit(ctx) is None,
    }


async def progress(msg: Incoming, ctx: Context) -> Reply:
    if not ctx.args:
        return usage("请写上事项编号或名称。", "进度 事项编号", "进度 SP-2026-0012")
    reply = await _progress(ctx, ctx.raw_args.strip())
    return reply or answer("not_found", "not_found", text=ctx.raw_args.strip())


async def progress_fallback(msg: Incoming, ctx: Context) -> Reply | None:
    """A message that is just an item number means 进度 <号>."""
    if ctx.account is None or not ctx.can(Right.PROBLEM_VIEW) or " " in msg.text.strip():
        return None
    return await _progress(ctx, msg.text.strip(), exact_only=True)


async def _progress(ctx: Context, text: str, exact_only: bool = False) -> Reply | None:
    """An item by number: one joined statement (item, unit, handler) and one for its events."""
    cal = await ctx.services.calendar()
    scope = scope_unit(ctx)
    async with ctx.db.read() as session:
        item = await item_by_number(session, text=text, unit_id=scope)
        if item is None and not exact_only:
            found = await items_titled(session, text=text, unit_id=scope)
            if len(found) > 1:
                return answer("many", items=found[:5])
            item = found[0] if found else None
            if item is not None:  # the title search does not join the handler's account
                item = await item_by_number(session, text=item.number, unit_id=scope)
        if item is None:
            return None
        events = await item_events(session, item_id=item.id)
    steps = [{"at": to_local(e.at).strftime("%Y-%m-%d %H:%M"), "kind": e.kind, "stage": e.stage,
              "status": e.status, "handler": e.handler_name, "detail": e.detail} for e in events]
    reachable = item.handler_user_id and item.status == IN_PROGRESS
    buttons = [Button("联系经办人", f"联系经办人 {item.number}")] if reachable else []
    return Reply("approval_progress.md.j2", item_view(item, cal, ctx) | {"events": steps}, buttons=buttons)


async def contact_handler(msg: Incoming, ctx: Context) -> Reply:
    """联系经办人 <编号>: the handler gets a message from the bot naming who asks and how to reach them
    (点对点精准联系, seed 002); the asker is told who was contacted."""
    number = ctx.raw_args.strip()
    if not number:
        return usage("请写上事项编号。", "联系经办人 事项编号", "联系经办人 SP-2026-0012")
    async with ctx.db.write() as session:
        item = await item_entity(session, number=number, unit_id=scope_unit(ctx))
        if item is None or not item.handler_user_id:
            return answer("no_handler", "not_found", text=number)
        assert ctx.account is not None
        who = f"{ctx.unit.name if ctx.unit else ''} {ctx.account.name}".strip()
        await notify_users(session, ctx.services.renderer, kind="approval.contact",
                           key=f"{item.id}:{msg.msg_id}", user_ids=[item.handler_user_id],
                           template="approval_contact.md.j2",
                           data={"who": who, "mobile": ctx.account.mobile, "number": item.number,
                                 "title": item.title, "stage": item.stage})
    return answer("contacted", who=item.handler_name or md_code(item.handler_user_id))


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
        return answer("no_unit", "not_found", text=arg)
    return await _list(ctx, units, f"{'、'.join(u.label for u in units)}的审批事项")


async def _list(ctx: Context, units: list[Unit] | None, title: str, *, stuck: bool = False,
                today: bool = False) -> Reply:
    cal, now = await ctx.services.calendar(), ctx.services.clock()
    day = local_today(now)
    unit_ids = None if units is None else [u.id for u in units if u.id is not None]
    async with ctx.db.read() as session:
        rows = await listed_items(session, unit_ids=unit_ids, day=day, today_only=today,
                                  since=day - timedelta(days=30))
    views = [item_view(i, cal, ctx) for i in rows]
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
        item = await item_entity(session, number=number)
        if item is None:
            return answer("no_item", "not_found", text=number)
        await add_note(session, item=item, at=ctx.services.clock(), stage=stage, detail=detail, actor=ctx.account)
    return answer("noted", number=item.number, stage=stage)


async def subscribe(msg: Incoming, ctx: Context) -> Reply:
    return await _set_opt_out(ctx, False)


async def unsubscribe(msg: Incoming, ctx: Context) -> Reply:
    return await _set_opt_out(ctx, True)


async def _set_opt_out(ctx: Context, out: bool) -> Reply:
    assert ctx.account is not None
    async with ctx.db.write() as session:
        await set_opt_out(session, account=ctx.account, out=out)
    return answer("opted_out" if out else "opted_in")


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
