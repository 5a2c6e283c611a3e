"""三定规定跟踪问效 (five-year plan) and 双随机抽查 (an auditable draw that anyone can re-run from its seed)."""

from __future__ import annotations

import json
import re
import secrets

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.context import Context, Incoming, Reply
from bot.importing.fields import parse_id, parse_int, parse_year
from bot.router import Command, Router
from handlers.rectification.common import usage
from handlers.visits.commands import status
from models.accounts.roles import Right, Role
from models.accounts.tables import accounts_with_role
from models.rectification.rules import local_today
from models.staffing.watchlist import watched_unit_ids
from models.visits.inspections import draw, plan_sanding
from models.visits.ops import save_draw, save_sanding_plan
from models.visits.queries import (
    account_names,
    priority_units,
    random_draw,
    sanding_rows,
    sanding_year,
    unit_labels,
    visit_units,
)


async def make_sanding_plan(msg: Incoming, ctx: Context) -> Reply:
    """生成三定问效计划 2027-2031: every unit in exactly one year, balanced, priority units early."""
    m = re.match(r"^(\d{4})\s*[-—~至到]\s*(\d{4})$", ctx.args.strip())
    if not m or not 1 <= int(m.group(2)) - int(m.group(1)) <= 9:
        return usage("请写上起止年份。", "生成三定问效计划 起始年-结束年", "生成三定问效计划 2027-2031")
    try:
        first, last = parse_year(m.group(1)), parse_year(m.group(2))
    except ValueError as e:
        return usage(f"{e}。", "生成三定问效计划 起始年-结束年", "生成三定问效计划 2027-2031")
    years = list(range(first, last + 1))
    today = local_today(ctx.services.clock())
    cal = await ctx.services.calendar()
    async with ctx.db.write() as session:
        units = [u.id for u in await visit_units(session) if u.id is not None]
        priority = await priority_units(session, today=today, cal=cal)
        plan = plan_sanding([(u, u in priority) for u in units], years)
        await save_sanding_plan(session, years=years, plan=plan, actor=ctx.account)
    return Reply("sanding_plan.md.j2", {
        "first": years[0], "last": years[-1], "priority": len(priority & set(plan)),
        "years": [{"year": y, "count": sum(1 for v in plan.values() if v == y)} for y in years]})


async def show_sanding(msg: Incoming, ctx: Context) -> Reply:
    """三定问效 [年份]: this year's units, or — when this year has none — the nearest planned year's, said."""
    try:
        asked = parse_year(ctx.args.strip().rstrip("年")) if ctx.args.strip() else None
    except ValueError as e:
        return usage(f"{e}。", "三定问效 [年份]", "三定问效 2027")
    this_year = local_today(ctx.services.clock()).year
    async with ctx.db.read() as session:
        year = asked or await sanding_year(session, year=this_year)
        rows = await sanding_rows(session, year=year)
    if not rows:
        return status("no_sanding", "not_found", year=year)
    return Reply("sanding_list.md.j2", {
        "year": year, "this_year": this_year, "other_year": year != this_year and not asked,
        "units": [{"label": u.label, "done": p.done_on is not None} for p, u in rows]})


async def random_inspection(msg: Incoming, ctx: Context) -> Reply:
    """随机抽查 5家 2人: units and inspectors drawn with a recorded seed (摇号)."""
    m = re.match(r"^(\d+)\s*(?:家|个)?\s+(\d+)\s*人?$", ctx.args.strip())
    if not m:
        return usage("请写上抽几家单位、几名检查人员。", "随机抽查 N家 M人", "随机抽查 5家 2人")
    try:
        n_units, n_people = parse_int(m.group(1), 1, 10_000, "单位数"), parse_int(m.group(2), 1, 10_000, "人数")
    except ValueError as e:
        return usage(f"{e}。", "随机抽查 N家 M人", "随机抽查 5家 2人")
    async with ctx.db.write() as session:
        pool = [u.id for u in await visit_units(session) if u.id is not None]
        watched = await watched_unit_ids(session)  # 监管异常名录: two tickets each
        unit_pool = sorted([*pool, *(u for u in watched if u in pool)])
        inspectors = sorted(a.user_id for a in await accounts_with_role(session, Role.OFFICE_STAFF))
        if n_units > len(pool) or n_people > len(inspectors) or n_units < 1 or n_people < 1:
            return status("draw_pool", "invalid", units=len(pool), people=len(inspectors))
        seed = secrets.token_hex(8)
        units, people = draw(seed, unit_pool, n_units, inspectors, n_people, unit_tickets=True)
        record = await save_draw(session, seed=seed, unit_pool=unit_pool, inspector_pool=inspectors, units=units,
                                 inspectors=people, actor=ctx.account)
        names = await _names(session, units, people)
    return Reply("draw_result.md.j2", {"number": record.id, "seed": seed, **names})


async def recheck(msg: Incoming, ctx: Context) -> Reply:
    """复核抽查 <编号>: re-run the draw from its recorded seed and pools."""
    if not ctx.args.strip():
        return usage("请写上抽查编号。", "复核抽查 编号", "复核抽查 3")
    try:
        number = parse_id(ctx.args.split()[0], "抽查编号")
    except ValueError as e:
        return usage(f"{e}。", "复核抽查 编号", "复核抽查 3")
    async with ctx.db.read() as session:
        record = await random_draw(session, draw_id=number)
        if record is None:
            return status("draw_missing", "not_found", number=number)
        # the pool as kept: a unit listed twice (监管异常名录) had two tickets
        units, people = draw(record.seed, json.loads(record.unit_pool), record.units_wanted,
                             json.loads(record.inspector_pool), record.inspectors_wanted, unit_tickets=True)
        same = units == json.loads(record.units) and people == json.loads(record.inspectors)
        names = await _names(session, units, people)
    return Reply("draw_recheck.md.j2", {"number": record.id, "seed": record.seed, "same": same, **names})


async def _names(session: AsyncSession, units: list[int], people: list[str]) -> dict[str, list[str]]:
    """The drawn units' labels and the inspectors' names, in the order drawn."""
    by_id = await unit_labels(session, unit_ids=units)
    by_user = await account_names(session, user_ids=people)
    return {"units": [by_id[u] for u in units], "people": [by_user.get(p, p) for p in people]}


def register(router: Router) -> None:
    add = router.add
    add(Command("生成三定问效计划", make_sanding_plan, Right.OFFICE_HANDLE, "五年内每个单位安排一次三定跟踪问效",
                "生成三定问效计划 2027-2031", topic="走访"))
    add(Command("三定问效", show_sanding, Right.OFFICE_VIEW, "查看某年的三定问效单位", "三定问效 [年份]", topic="走访"))
    add(Command("随机抽查", random_inspection, Right.OFFICE_HANDLE, "双随机抽取单位和检查人员（可复核）",
                "随机抽查 N家 M人", aliases=("双随机",), topic="走访"))
    add(Command("复核抽查", recheck, Right.MEMBER, "用记录的种子重新摇号核对", "复核抽查 编号",
                aliases=("抽查复核", "复核摇号"), topic="走访"))
