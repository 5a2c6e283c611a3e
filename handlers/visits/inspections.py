"""三定规定跟踪问效 (five-year plan) and 双随机抽查 (an auditable draw that anyone can re-run from its seed)."""

from __future__ import annotations

import json
import re
import secrets

from sqlalchemy import delete
from sqlmodel import select

from bot.context import Context, Incoming, Reply
from bot.importing.fields import parse_id, parse_int, parse_year
from bot.render import Markdown, md_escape
from bot.router import Command, Router
from handlers.rectification.common import text_reply, usage
from models import RandomDraw, SandingPlan, Unit
from models.accounts.roles import Right, Role
from models.accounts.tables import accounts_with_role
from models.rectification.rules import local_today
from models.staffing.watchlist import watched_unit_ids
from models.visits.ops import priority_units, visit_units
from models.visits.roster import draw, plan_sanding


def _md(lines: list[str]) -> Reply:
    return text_reply(Markdown("\n".join(lines)))


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
    async with ctx.db.write() as session:
        units = [u.id for u in await visit_units(session)]
        first = await priority_units(session, today)
        plan = plan_sanding([(u, u in first) for u in units], years)
        await session.exec(delete(SandingPlan).where(SandingPlan.cycle_start == years[0]))  # type: ignore[call-overload]
        for unit_id, year in plan.items():
            session.add(SandingPlan(cycle_start=years[0], unit_id=unit_id, year=year))
    counts = {y: sum(1 for v in plan.values() if v == y) for y in years}
    return _md([f"#### 三定规定跟踪问效计划 {years[0]}-{years[-1]}", "",
                *[f"- {y} 年：{n} 个单位" for y, n in counts.items()], "",
                f"重点单位 {len(first & set(plan))} 个排在前面的年份。发送 三定问效 年份 查看当年名单。"])


async def show_sanding(msg: Incoming, ctx: Context) -> Reply:
    """三定问效 [年份]: this year's units, or — when this year has none — the nearest planned year's, said."""
    try:
        asked = parse_year(ctx.args.strip().rstrip("年")) if ctx.args.strip() else None
    except ValueError as e:
        return usage(f"{e}。", "三定问效 [年份]", "三定问效 2027")
    this_year = local_today(ctx.services.clock()).year
    async with ctx.db.read() as session:
        year = asked or this_year
        if asked is None and not (await session.exec(select(SandingPlan.id).where(SandingPlan.year == year))).first():
            planned = set((await session.exec(select(SandingPlan.year))).all())
            years = sorted(planned, key=lambda y: (y < year, abs(y - year)))  # the nearest coming year first
            year = years[0] if years else year
        rows = (await session.exec(select(SandingPlan, Unit).join(Unit).where(SandingPlan.year == year)
                                   .order_by(Unit.id))).all()
    if not rows:
        return text_reply(f"{year} 年没有三定问效安排。发送 生成三定问效计划 2027-2031 生成。", "not_found")
    names = "、".join(md_escape(u.label) + ("（已完成）" if p.done_on else "") for p, u in rows)
    note = [] if year == this_year or asked else [f"（{this_year} 年没有三定问效安排，显示的是 {year} 年；"
                                                  "查看其他年份请发送 三定问效 年份）", ""]
    return _md([f"#### {year} 年三定规定跟踪问效单位（{len(rows)} 个）", "", *note, names])


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
        watched = await watched_unit_ids(session)  # 监管异常名录: two tickets each
        pool = [u.id for u in await visit_units(session)]
        unit_pool = sorted([*pool, *(u for u in watched if u in pool)])
        inspectors = sorted(a.user_id for a in await accounts_with_role(session, Role.OFFICE_STAFF))
        if n_units > len(set(unit_pool)) or n_people > len(inspectors) or n_units < 1 or n_people < 1:
            return text_reply(f"只能从 {len(set(unit_pool))} 个单位、{len(inspectors)} 名编办业务员中抽取。", "invalid")
        seed = secrets.token_hex(8)
        units, people = draw(seed, unit_pool, n_units, inspectors, n_people, unit_tickets=True)
        record = RandomDraw(seed=seed, units_wanted=n_units, inspectors_wanted=n_people,
                            unit_pool=json.dumps(unit_pool), inspector_pool=json.dumps(inspectors),
                            units=json.dumps(units), inspectors=json.dumps(people),
                            drawn_by=ctx.account.id if ctx.account else None)
        session.add(record)
        await session.flush()
        names = await _names(session, units, people)
    return _md([f"#### 双随机抽查（第 {record.id} 号）", "", f"- 单位：{names[0]}", f"- 检查人员：{names[1]}",
                f"- 随机种子：{seed}", "", f"任何人都可发送 复核抽查 {record.id} 用同一种子重新摇号核对。"])


async def recheck(msg: Incoming, ctx: Context) -> Reply:
    """复核抽查 <编号>: re-run the draw from its recorded seed and pools."""
    if not ctx.args.strip():
        return usage("请写上抽查编号。", "复核抽查 编号", "复核抽查 3")
    try:
        number = parse_id(ctx.args.split()[0], "抽查编号")
    except ValueError as e:
        return usage(f"{e}。", "复核抽查 编号", "复核抽查 3")
    async with ctx.db.read() as session:
        record = await session.get(RandomDraw, number)
        if record is None:
            return text_reply(f"没有第 {number} 号抽查。", "not_found")
        # the pool as kept: a unit listed twice (监管异常名录) had two tickets
        units, people = draw(record.seed, json.loads(record.unit_pool), record.units_wanted,
                             json.loads(record.inspector_pool), record.inspectors_wanted, unit_tickets=True)
        same = units == json.loads(record.units) and people == json.loads(record.inspectors)
        names = await _names(session, units, people)
    verdict = "与当时结果一致 ✅" if same else "与当时结果不一致 ❌（请联系编办核查）"
    return _md([f"#### 复核第 {record.id} 号抽查", "", f"- 种子 {record.seed} 重新摇号：{verdict}",
                f"- 单位：{names[0]}", f"- 检查人员：{names[1]}"])


async def _names(session, units: list[int], people: list[str]) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    by_id = {u.id: u.label for u in (await session.exec(select(Unit).where(Unit.id.in_(units)))).all()}  # type: ignore[union-attr]
    from models import Account

    by_user = {a.user_id: a.name for a in (await session.exec(select(Account).where(
        Account.user_id.in_(people)))).all()}  # type: ignore[attr-defined]
    return ("、".join(md_escape(by_id[u]) for u in units), "、".join(md_escape(by_user.get(p, p)) for p in people))


def register(router: Router) -> None:
    add = router.add
    add(Command("生成三定问效计划", make_sanding_plan, Right.OFFICE_HANDLE, "五年内每个单位安排一次三定跟踪问效",
                "生成三定问效计划 2027-2031", topic="走访"))
    add(Command("三定问效", show_sanding, Right.OFFICE_VIEW, "查看某年的三定问效单位", "三定问效 [年份]", topic="走访"))
    add(Command("随机抽查", random_inspection, Right.OFFICE_HANDLE, "双随机抽取单位和检查人员（可复核）",
                "随机抽查 N家 M人", aliases=("双随机",), topic="走访"))
    add(Command("复核抽查", recheck, Right.MEMBER, "用记录的种子重新摇号核对", "复核抽查 编号",
                aliases=("抽查复核", "复核摇号"), topic="走访"))
