"""导出台账: the 整改 ledger as an .xlsx file, sent to the requester's single chat."""

from __future__ import annotations

import asyncio
import logging

from sqlmodel import select

from bot.context import Context, Incoming, Reply
from bot.dingtalk_api import DingTalkError
from bot.router import Command, Router
from handlers.rectification.common import text_reply
from models import Problem, Unit
from models.accounts.roles import Right
from models.base import to_local
from models.outbox import enqueue, user_recipient
from models.rectification.rules import light, local_today, workdays_left

log = logging.getLogger(__name__)


async def export_ledger(msg: Incoming, ctx: Context) -> Reply:
    from handlers.rectification.xlsx import LedgerRow, build_ledger_xlsx  # openpyxl: loaded when first needed

    cal, now = await ctx.services.calendar(), ctx.services.clock()
    today = local_today(now)
    async with ctx.db.read() as session:
        rows = (await session.exec(select(Problem, Unit).join(Unit).order_by(Problem.number))).all()
    ledger = [
        LedgerRow(number=p.number, unit=u.name, source=p.source, description=p.description,
                  requirement=p.requirement, assigned_on=p.assigned_on, deadline=p.deadline,
                  provisional=p.deadline_provisional, workdays_left=workdays_left(cal, p.deadline, today),
                  light=light(cal, p.deadline, today, p.status, ctx.services.rules), status=p.status,
                  closed_on=to_local(p.closed_at).date() if p.closed_at else None)
        for p, u in rows
    ]
    stamp = to_local(now)
    name = f"整改台账-{stamp:%Y%m%d-%H%M}.xlsx"
    data = await asyncio.to_thread(build_ledger_xlsx, ledger, title="整改问题台账", generated_at=stamp)
    return await _send_file(msg, ctx, data, name, f"台账（{len(ledger)} 个问题）")


async def export_roster(msg: Incoming, ctx: Context) -> Reply:
    """导出走访计划 [年份]: the year asked for, else this year's roster (or next year's) as an .xlsx."""
    from handlers.visits.xlsx import build_roster_xlsx
    from models import PlannedVisit, VisitGroup
    from models.visits.ops import plan_for

    today = local_today(ctx.services.clock())
    asked = int(ctx.args.strip().rstrip("年")) if ctx.args.strip().rstrip("年").isdigit() else None
    async with ctx.db.read() as session:
        plan = await plan_for(session, asked, today)
        if plan is None:
            return text_reply(f"{asked or ''}{' 年' if asked else ''}还没有走访计划。发送 生成走访计划 年份 生成。",
                              "not_found")
        rows = (await session.exec(select(PlannedVisit, Unit, VisitGroup).join(Unit).join(VisitGroup).where(
            PlannedVisit.plan_id == plan.id))).all()
    table = [(v.month, g.name, u.name, u.town, v.scheduled_on.isoformat() if v.scheduled_on else "")
             for v, u, g in rows]
    name = f"走访计划-{plan.year}.xlsx"
    data = await asyncio.to_thread(build_roster_xlsx, table, year=plan.year)
    return await _send_file(msg, ctx, data, name, f"{plan.year} 年走访计划（{len(table)} 家）")


async def _send_file(msg: Incoming, ctx: Context, data: bytes, name: str, what: str) -> Reply:
    try:
        media_id = await ctx.services.api.upload_media(data, name, "file")
    except DingTalkError as e:
        log.warning("upload of %s failed: %s", name, e)
        return text_reply("文件上传钉钉失败，请稍后再试。", "error")
    async with ctx.db.write() as session:
        await enqueue(session, dedup_key=f"export:{msg.msg_id}:{msg.user_id}", kind="export.file",
                      recipient=user_recipient(msg.user_id), msg_key="sampleFile",
                      param={"mediaId": media_id, "fileName": name, "fileType": "xlsx"})
    return text_reply(f"{what}已生成，文件马上发到{'单聊' if msg.is_group else '这里'}。")


def register(router: Router) -> None:
    router.add(Command("导出走访计划", export_roster, Right.OFFICE_VIEW, "导出走访计划 Excel（每组一页、每月一页）",
                       "导出走访计划 [年份]", topic="走访"))
    router.add(Command("导出台账", export_ledger, Right.OFFICE_VIEW, "导出整改台账 Excel（按单位汇总、灯色标注）",
                       aliases=("台账导出", "导出台帐", "台帐导出", "导出"), topic="整改"))
