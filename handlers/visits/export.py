"""导出走访计划: the year's roster as an .xlsx file, sent to the requester's single chat."""

from __future__ import annotations

import asyncio

from bot.context import Context, Incoming, Reply
from bot.exports import send_export
from bot.router import Command, Router
from handlers.visits.commands import status
from models.accounts.roles import Right
from models.rectification.rules import local_today
from models.visits.queries import plan_for, roster_rows


async def export_roster(msg: Incoming, ctx: Context) -> Reply:
    """导出走访计划 [年份]: the year asked for, else this year's roster (or next year's) as an .xlsx."""
    from handlers.visits.xlsx import build_roster_xlsx  # openpyxl only when an export is asked for

    today = local_today(ctx.services.clock())
    asked = int(ctx.args.strip().rstrip("年")) if ctx.args.strip().rstrip("年").isdigit() else None
    async with ctx.db.read() as session:
        plan = await plan_for(session, asked, today)
        if plan is None:
            return status("no_plan", "not_found", year=asked)
        rows = await roster_rows(session, plan=plan)
    table = [(v.month, g.name, u.name, u.town, v.scheduled_on.isoformat() if v.scheduled_on else "")
             for v, u, g in rows]
    name = f"走访计划-{plan.year}.xlsx"
    data = await asyncio.to_thread(build_roster_xlsx, table, year=plan.year)
    return await send_export(msg, ctx, data, name, f"{plan.year} 年走访计划（{len(table)} 家）")


def register(router: Router) -> None:
    router.add(Command("导出走访计划", export_roster, Right.OFFICE_VIEW, "导出走访计划 Excel（每组一页、每月一页）",
                       "导出走访计划 [年份]", topic="走访"))
