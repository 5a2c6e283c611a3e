"""导出考评 [年份]: the xlsx 考评表 (every unit, every indicator, score, evidence) with the 通报 text;
考评通报 [年份]: the 通报 text, ready for 纪委、组织、财政、人社."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Any

from bot.context import Context, Incoming, Reply
from bot.exports import send_export
from bot.router import Command, Router
from handlers.evaluation.common import bands, note, rules_of, score, today_of
from models.accounts.roles import Right
from models.evaluation import ops
from models.evaluation.rules import last_n
from models.evaluation.scoring import UnitResult


async def _year_results(ctx: Context) -> tuple[int, list[UnitResult], dict[str, Any]]:
    today = today_of(ctx.services)
    m = re.match(r"^(\d{4})", ctx.args.strip())
    year = int(m.group(1)) if m else today.year
    rules = rules_of(ctx.services)
    async with ctx.db.read() as session:
        results = await score(ctx.services, session, year, min(today, date(year, 12, 31)))
        final = await ops.annual_tiers(session, year)
        black = [u.label for b, u in await ops.blacklist(session) if b.year == year]
    tiers = final or (bands(results, rules) if results else {})
    bottom = last_n({r.unit_id: r.total for r in results}, rules.last_n)
    by_tier = {t: [r.name for r in results if tiers.get(r.unit_id) == t] for t in ("优秀", "良好", "达标", "不达标")}
    data = {"year": year, "final": bool(final), "as_of": min(today, date(year, 12, 31)).isoformat(),
            "count": len(results), "by_tier": by_tier, "bottom": [r.name for r in results if r.unit_id in bottom],
            "rows": [{"rank": r.rank, "unit": r.name, "total": r.total, "band": tiers.get(r.unit_id, "")}
                     for r in results],
            "blacklisted": black, "last_n": rules.last_n}
    return year, results, data


async def bulletin(msg: Incoming, ctx: Context) -> Reply:
    _year, results, data = await _year_results(ctx)
    if not results:
        return note("no_indicators", "invalid")
    return Reply("evaluation_bulletin.md.j2", data)


async def export_scores(msg: Incoming, ctx: Context) -> Reply:
    from handlers.evaluation.xlsx import build_scores_xlsx

    year, results, data = await _year_results(ctx)
    if not results:
        return note("no_indicators", "invalid")
    text = ctx.services.renderer.render("evaluation_bulletin.md.j2", data)
    tiers = {r.unit_id: row["band"] for r, row in zip(results, data["rows"], strict=True)}
    content = await asyncio.to_thread(build_scores_xlsx, results, tiers, year=year, bulletin=text)
    return await send_export(msg, ctx, content, f"监管评价考评表-{year}.xlsx", f"{year} 年考评表")


def register(router: Router) -> None:
    router.add(Command("导出考评", export_scores, Right.OFFICE_VIEW, "导出考评表 Excel（逐单位逐项得分、依据和通报）",
                       "导出考评 [年份]", aliases=("导出考评表",), topic="监管评价"))
    router.add(Command("考评通报", bulletin, Right.OFFICE_VIEW, "生成考评通报文本（可抄送纪委、组织、财政、人社）",
                       "考评通报 [年份]", topic="监管评价"))
