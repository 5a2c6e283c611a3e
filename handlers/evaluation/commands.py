"""监管评价 in chat: 考评 [本月|年份|单位], 我的考评, 评分, 自评 (with files), 约谈, 年度定级."""

from __future__ import annotations

import re
from datetime import date, datetime

from bot.context import Context, Incoming, Reply
from bot.files import keep_attachments
from bot.notify import bound
from bot.router import ATTACHMENT_MINUTES, ATTACHMENT_WINDOW, Command, Handler, Router
from handlers.evaluation.common import bands, note, one_unit, rules_of, score, today_of, unit_view, usage
from models.accounts.roles import Right
from models.evaluation import ops
from models.evaluation.announce import announce_annual
from models.evaluation.rules import movement
from models.evaluation.scoring import latest_self
from models.rectification.rules import deliver_at
from models.staffing.watchlist import watched_unit_ids

_YEAR = re.compile(r"^(\d{4})\s*年?$")
SCORE_USAGE = "评分 单位 指标 分数 依据"
SCORE_EXAMPLE = "评分 教育局 群众满意度 8.5 第三方问卷调查结果"


async def ranking(msg: Incoming, ctx: Context) -> Reply:
    """考评 [本月|2027|单位]: the ranking (office only), or one unit's sheet."""
    arg = ctx.args.strip()
    today = today_of(ctx.services)
    m = _YEAR.match(arg)
    if arg and arg != "本月" and not m:
        return await unit_sheet(msg, ctx, arg)
    year = int(m.group(1)) if m else today.year
    if not 2000 <= year <= today.year + 1:
        return usage("年份不对。", "考评 [本月|年份|单位]", "考评 2027")
    rules = rules_of(ctx.services)
    async with ctx.db.read() as session:
        results = await score(ctx.services, session, year, min(today, date(year, 12, 31)))
        annual = await ops.annual_tiers(session, year) if m else {}
        previous: dict[int, int] = {}
        for month in range(min(today.month if year == today.year else 12, 12), 0, -1):
            previous = await ops.snapshot_ranks(session, year, month)
            if previous:
                break
        watched = await watched_unit_ids(session)
    if not results:
        return note("no_indicators", "invalid")
    band = annual or bands(results, rules)  # the tiers fixed by 年度定级, else where units stand now
    rows = [{"rank": r.rank, "unit": r.name, "total": r.total, "band": band.get(r.unit_id, ""),
             "move": movement(r.rank, previous.get(r.unit_id)) if previous else "", "watched": r.unit_id in watched}
            for r in results]
    title = f"{year} 年度监管评价排名" if m else f"{year} 年监管评价排名（截至 {today:%m月%d日}）"
    return Reply("evaluation_ranking.md.j2", {"title": title, "rows": rows[:60], "more": max(0, len(rows) - 60),
                                              "final": bool(annual), "provisional": not annual,
                                              "moves": bool(previous), "last_n": rules.last_n})


async def unit_sheet(msg: Incoming, ctx: Context, text: str) -> Reply:
    """考评 单位: every indicator with its score and evidence, and the unit's 自评 beside it."""
    today = today_of(ctx.services)
    async with ctx.db.read() as session:
        unit = await one_unit(session, text)
        if isinstance(unit, Reply):
            return unit
        results = await score(ctx.services, session, today.year)
        own = await latest_self(session, today.year, unit.id)  # type: ignore[arg-type]
        watched = unit.id in await watched_unit_ids(session)
    result = next((r for r in results if r.unit_id == unit.id), None)
    if result is None:
        return note("no_indicators", "invalid")
    band = bands(results, rules_of(ctx.services))[result.unit_id]
    items = [{"name": i.indicator, "method": i.method, "score": i.score, "full": i.full, "evidence": i.evidence,
              "manual": i.manual} for i in result.items]
    return Reply("evaluation_unit.md.j2", unit_view(result, band, len(results)) | {
        "year": today.year, "items": items, "office": True, "watched": watched,
        "self_score": own.score if own else None, "self_text": own.text if own else ""})


async def my_evaluation(msg: Incoming, ctx: Context) -> Reply:
    """我的考评: the unit's own score, band, what cost points and how to improve — nobody else's."""
    if ctx.unit is None:
        return note("no_unit", "invalid")
    today = today_of(ctx.services)
    async with ctx.db.read() as session:
        results = await score(ctx.services, session, today.year)
        own = await latest_self(session, today.year, ctx.unit.id)  # type: ignore[arg-type]
    result = next((r for r in results if r.unit_id == ctx.unit.id), None)
    if result is None:
        return note("no_indicators", "invalid")
    band = bands(results, rules_of(ctx.services))[result.unit_id]
    return Reply("evaluation_unit.md.j2", unit_view(result, band, len(results)) | {
        "year": today.year, "items": [], "office": False, "watched": False,
        "self_score": own.score if own else None, "self_text": own.text if own else ""})


async def give_score(msg: Incoming, ctx: Context) -> Reply:
    """评分 单位 指标 分数 依据: a manual score, with its reason, audited."""
    parts = ctx.raw_args.split(maxsplit=3)
    if len(parts) < 4 or len(parts[3].strip()) < 2:
        return usage("评分需要单位、指标、分数和依据（依据必填，会留痕）。", SCORE_USAGE, SCORE_EXAMPLE)
    unit_text, indicator_text, value, basis = parts
    try:
        points = float(value)
    except ValueError:
        return usage(f"分数“{value}”不是数字。", SCORE_USAGE, SCORE_EXAMPLE)
    assert ctx.account is not None
    year = today_of(ctx.services).year
    async with ctx.db.write() as session:
        unit = await one_unit(session, unit_text)
        if isinstance(unit, Reply):
            return unit
        indicator = await ops.find_indicator(session, indicator_text)
        if indicator is None:
            return note("indicator_not_found", "not_found", text=indicator_text)
        if not 0 <= points <= indicator.full_mark:
            return note("score_range", "invalid", full=indicator.full_mark, name=indicator.name)
        await ops.set_manual_score(session, year=year, unit_id=unit.id, indicator=indicator, score=points,  # type: ignore[arg-type]
                                   basis=basis.strip()[:500], actor_user_id=ctx.account.user_id,
                                   actor_account_id=ctx.account.id)
    return note("scored", unit=unit.name, indicator=indicator.name, score=points, full=indicator.full_mark,
                basis=basis.strip())


async def self_assess(msg: Incoming, ctx: Context) -> Reply:
    """自评 分数 说明: the unit's self-assessment; files sent within 30 minutes join it."""
    parts = ctx.raw_args.split(maxsplit=1)
    example = "自评 92 三定规定全面落实，详见附件"
    if len(parts) < 2:
        return usage("请写上自评分（百分制）和自评说明。", "自评 分数 说明", example)
    try:
        points = float(parts[0])
    except ValueError:
        return usage(f"自评分“{parts[0]}”不是数字。", "自评 分数 说明", example)
    if not 0 <= points <= 100 or ctx.unit is None or ctx.account is None:
        return usage("自评分应在 0 到 100 之间。", "自评 分数 说明", example)
    async with ctx.db.write() as session:
        await ops.add_self_assessment(session, year=today_of(ctx.services).year, unit_id=ctx.unit.id,  # type: ignore[arg-type]
                                      score=points, text=parts[1].strip()[:2000], account_id=ctx.account.id,
                                      actor_user_id=ctx.account.user_id)
    return note("self_saved", score=points, minutes=ATTACHMENT_MINUTES)


async def claim_attachment(msg: Incoming, ctx: Context) -> tuple[datetime, Handler] | None:
    """Photos and files in single chat claimed for the sender's 自评 of the last 30 minutes."""
    if ctx.account is None or ctx.account.id is None or msg.is_group:
        return None
    async with ctx.db.read() as session:
        own = await ops.recent_self_assessment(session, ctx.account.id, ctx.services.clock() - ATTACHMENT_WINDOW)
    if own is None:
        return None

    async def attach(msg: Incoming, ctx: Context) -> Reply:
        stored = await keep_attachments(ctx.services.api, ctx.services.config.storage_dir, msg.attachments,
                                        subdir=f"evaluation/ZP{own.id}",
                                        max_file_mb=ctx.services.config.storage.max_file_mb)
        if stored is None:
            return note("file_failed", "error")
        async with ctx.db.write() as session:
            count = await ops.add_self_attachments(session, own, [
                (a.kind, a.file_name or f.file_name, f.path, f.size, f.sha256)
                for a, f in zip(msg.attachments, stored, strict=True)])
        return note("self_file", count=count)

    return own.created_at, attach


async def interview(msg: Incoming, ctx: Context) -> Reply:
    """约谈: the open tasks; 约谈 单位 已完成 说明 records one as done."""
    if not ctx.args:
        async with ctx.db.read() as session:
            rows = await ops.open_interviews(session)
        return Reply("evaluation_interviews.md.j2", {"rows": [
            {"unit": u.name, "year": i.year, "reason": i.reason} for i, u in rows]})
    m = re.match(r"^(\S+)\s+已完成\s*(.*)$", ctx.raw_args.strip(), re.S)
    if not m or len(m.group(2).strip()) < 2:
        return usage("请写上单位、“已完成”和约谈情况说明。", "约谈 单位 已完成 说明",
                     "约谈 教育局 已完成 已约谈主要负责人")
    assert ctx.account is not None
    async with ctx.db.write() as session:
        unit = await one_unit(session, m.group(1))
        if isinstance(unit, Reply):
            return unit
        done = await ops.complete_interview(session, unit.id, m.group(2).strip()[:500],  # type: ignore[arg-type]
                                            today_of(ctx.services), ctx.account.user_id, ctx.account.id)
    if done is None:
        return note("no_interview", "not_found", unit=unit.name)
    return note("interview_done", unit=unit.name, year=done.year)


async def finalize(msg: Incoming, ctx: Context) -> Reply:
    """年度定级 2027: tiers, 约谈 tasks, 黑名单 (the January job does it for the year just ended)."""
    m = _YEAR.match(ctx.args.strip())
    if not m:
        return usage("请写上年份。", "年度定级 年份", "年度定级 2027")
    services = ctx.services
    now, cal = services.clock(), await services.calendar()
    async with ctx.db.write() as session:
        outcome = await announce_annual(session, year=int(m.group(1)), now=now, cal=cal, rules=rules_of(services),
                                        due=deliver_at(cal, now, services.rules), notify=bound(services.renderer))
    if outcome is None:
        return note("no_indicators", "invalid")
    return Reply("evaluation_annual.md.j2", outcome)


def register(router: Router) -> None:
    add, topic = router.add, "监管评价"
    add(Command("考评", ranking, Right.OFFICE_VIEW, "监管评价排名（含升降）或某单位的逐项得分和依据",
                "考评 [本月|年份|单位]", aliases=("考评排名",), topic=topic))
    add(Command("我的考评", my_evaluation, Right.UNIT_OWN, "本单位的考评得分、所处档次、失分项和改进建议",
                aliases=("本单位考评",), topic=topic))
    add(Command("自评", self_assess, Right.UNIT_OWN, "提交本单位自评分和说明（随后可发送佐证材料）",
                "自评 分数 说明", topic=topic))
    add(Command("评分", give_score, Right.OFFICE_HANDLE, "人工评分（须写依据，全程留痕）", SCORE_USAGE, topic=topic))
    add(Command("约谈", interview, Right.OFFICE_HANDLE, "查看待约谈单位；约谈 单位 已完成 说明 记录完成",
                "约谈 [单位 已完成 说明]", topic=topic))
    add(Command("年度定级", finalize, Right.OFFICE_LEAD, "按强制分布确定年度等次，生成约谈任务和黑名单",
                "年度定级 年份", topic=topic))
