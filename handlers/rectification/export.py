"""导出台账: the 整改 ledger as an .xlsx file, sent to the requester's single chat."""

from __future__ import annotations

import asyncio

from bot.context import Context, Incoming, Reply
from bot.exports import send_export
from bot.router import Command, Router
from models.accounts.roles import Right
from models.base import to_local
from models.rectification.queries import problems_with_units
from models.rectification.rules import light, local_today, workdays_left


async def export_ledger(msg: Incoming, ctx: Context) -> Reply:
    from handlers.rectification.xlsx import LedgerRow, build_ledger_xlsx  # openpyxl: loaded when first needed

    cal, now = await ctx.services.calendar(), ctx.services.clock()
    today = local_today(now)
    async with ctx.db.read() as session:
        rows = await problems_with_units(session)
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
    return await send_export(msg, ctx, data, name, f"台账（{len(ledger)} 个问题）")


def register(router: Router) -> None:
    router.add(Command("导出台账", export_ledger, Right.OFFICE_VIEW, "导出整改台账 Excel（按单位汇总、灯色标注）",
                       aliases=("台账导出", "导出台帐", "台帐导出", "导出"), topic="整改"))
