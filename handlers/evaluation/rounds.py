"""三张清单: 评估 2027 第一批 (open a round), 评估 亮点|问题|制度|完成 …, 评估清单, 导出评估清单.

A 问题不足 item becomes a 整改 problem through the same path as 转整改 (rectification's
`assign_problem`, origin `evaluation:PG-…`); its 销号 marks the item done. 完善制度 items have an
owner and a due date and are reminded like problems (jobs/evaluation.py)."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Any

from bot.context import Context, Incoming, Reply
from bot.dialogue import Invalid
from bot.exports import send_export
from bot.router import Command, Router
from handlers.evaluation.common import note, one_unit, today_of, usage
from handlers.rectification.ledger import assign_problem, parse_when
from handlers.rectification.sources import Draft, ProblemSource, ProblemSources
from models.accounts.roles import Right
from models.evaluation import rounds
from models.evaluation.tables import HIGHLIGHT, LISTS, RULE_TO_WRITE, SHORTCOMING, RoundItem
from models.rectification.tables import CLOSED, Problem

ROUND_USAGE = "评估 年份 批次 | 评估 亮点 内容 | 评估 问题 单位 期限 内容 | 评估 制度 负责人 期限 内容 | 评估 完成 编号"
KINDS = {"亮点": HIGHLIGHT, "特色亮点": HIGHLIGHT, "问题": SHORTCOMING, "问题不足": SHORTCOMING,
         "制度": RULE_TO_WRITE, "完善制度": RULE_TO_WRITE}


async def evaluate(msg: Incoming, ctx: Context) -> Reply:
    assert ctx.account is not None
    head, _, rest = ctx.raw_args.strip().partition(" ")
    rest = rest.strip()
    if re.fullmatch(r"\d{4}", head) and rest:
        async with ctx.db.write() as session:
            rnd, new = await rounds.open_round(session, int(head), rest[:40], ctx.account.user_id)
        return note("round_opened", year=rnd.year, name=rnd.name, new=new)
    if head == "完成":
        return await _done(ctx, rest)
    kind = KINDS.get(head)
    if kind is None or not rest:
        return usage("请写明要做什么。", ROUND_USAGE, "评估 问题 教育局 20个工作日 内设机构超限额设置")
    async with ctx.db.read() as session:
        current = await rounds.current_round(session)
    if current is None:
        return usage("还没有评估批次，请先建立。", "评估 年份 批次", "评估 2027 第一批")
    rnd = current
    if kind == HIGHLIGHT:
        async with ctx.db.write() as session:
            item = await rounds.add_item(session, rnd, kind, rest[:2000], ctx.account.user_id)
        return note("item_added", number=item.number, kind=kind, round=f"{rnd.year} {rnd.name}", owner="", due="")
    parts = rest.split(maxsplit=2)
    if len(parts) < 3:
        return usage("请写上单位（或负责人）、期限和内容。", ROUND_USAGE,
                     "评估 制度 张科长 2027-06-30 编制使用审核办法")
    who, when, content = parts
    try:
        due = await parse_when(when, msg, ctx, {})
    except Invalid as e:
        return usage(str(e), ROUND_USAGE)
    if kind == SHORTCOMING:
        return await _shortcoming(msg, ctx, rnd, who, due, content)
    async with ctx.db.write() as session:
        owner = await rounds.find_account(session, who)
        if owner is None:
            return note("owner_not_found", "not_found", text=who)
        item = await rounds.add_item(session, rnd, kind, content[:2000], ctx.account.user_id,
                                     owner_user_id=owner.user_id, owner_name=owner.name, due=date.fromisoformat(due))
    return note("item_added", number=item.number, kind=kind, round=f"{rnd.year} {rnd.name}", owner=owner.name, due=due)


async def _shortcoming(msg: Incoming, ctx: Context, rnd: Any, who: str, due: str, content: str) -> Reply:
    """问题不足: the item and its 整改 problem in one transaction (the path of 转整改)."""
    assert ctx.account is not None
    async with ctx.db.read() as session:
        unit = await one_unit(session, who)
    if isinstance(unit, Reply):
        return unit
    actor = ctx.account.user_id

    async def link(session: Any, problem: Problem) -> None:
        item = await rounds.add_item(session, rnd, SHORTCOMING, content[:2000], actor, unit_id=unit.id)
        item.problem_id = problem.id
        problem.origin = f"evaluation:{item.number}"
        session.add_all([item, problem])

    data = {"unit": unit.id, "source": "评估", "deadline": due,
            "description": f"{rnd.year} {rnd.name}评估发现：{content}", "requirement": "请按评估意见整改并报告。"}
    return await assign_problem(msg, ctx, data, on_created=link)


async def _done(ctx: Context, rest: str) -> Reply:
    number, _, text = rest.partition(" ")
    if not number:
        return usage("请写上清单编号。", "评估 完成 编号 [说明]", "评估 完成 PG-2027-0003 已印发")
    assert ctx.account is not None
    async with ctx.db.write() as session:
        item = await rounds.item_by_number(session, number)
        if item is None:
            return note("item_not_found", "not_found", text=number)
        if item.kind == SHORTCOMING:
            return note("item_is_problem", "invalid", number=item.number)
        if item.done_on is None:
            await rounds.mark_done(session, item, today_of(ctx.services), ctx.account.user_id, text.strip())
    return note("item_done", number=item.number)


async def _round_data(ctx: Context, args: str) -> dict[str, Any] | Reply:
    m = re.match(r"^(\d{4})\s+(\S+)$", args.strip())
    async with ctx.db.read() as session:
        rnd = (await rounds.find_round(session, int(m.group(1)), m.group(2)) if m
               else await rounds.current_round(session))
        if rnd is None:
            return note("no_round", "not_found")
        rows = await rounds.items_with_problems(session, rnd.id)  # type: ignore[arg-type]
        units = await rounds.unit_names(session)
    today = today_of(ctx.services)
    lists: dict[str, list[dict[str, Any]]] = {k: [] for k in LISTS}
    for item, problem in rows:
        done = item.done_on is not None or (problem is not None and problem.status == CLOSED)
        lists[item.kind].append({
            "number": item.number, "content": item.content, "unit": units.get(item.unit_id or 0, ""),
            "owner": item.owner_name, "due": (problem.deadline if problem else item.due),
            "problem": problem.number if problem else "", "status": problem.status if problem else "",
            "done": done, "overdue": not done and (d := problem.deadline if problem else item.due) is not None
            and d < today})
    summary = [{"kind": k, "count": len(v), "done": sum(r["done"] for r in v), "overdue": sum(r["overdue"] for r in v)}
               for k, v in lists.items()]
    return {"title": f"{rnd.year} {rnd.name}", "lists": lists, "summary": summary}


async def show_lists(msg: Incoming, ctx: Context) -> Reply:
    data = await _round_data(ctx, ctx.args)
    if isinstance(data, Reply):
        return data
    return Reply("evaluation_lists.md.j2", data)


async def export_lists(msg: Incoming, ctx: Context) -> Reply:
    from handlers.evaluation.xlsx import build_lists_xlsx

    data = await _round_data(ctx, ctx.args)
    if isinstance(data, Reply):
        return data
    content = await asyncio.to_thread(build_lists_xlsx, data)
    return await send_export(msg, ctx, content, f"评估三张清单-{data['title'].replace(' ', '')}.xlsx", "三张清单")


async def item_draft(msg: Incoming, ctx: Context, token: str) -> Draft | Reply:
    """转整改 PG-…: a 问题不足 item not yet linked becomes a problem."""
    async with ctx.db.read() as session:
        item = await rounds.item_by_number(session, token)
    if item is None or item.kind != SHORTCOMING or item.unit_id is None:
        return note("item_not_found", "not_found", text=token)
    if item.problem_id is not None:
        return note("item_is_problem", "invalid", number=item.number)
    item_id = item.id

    async def link(session: Any, problem: Problem) -> None:
        await rounds.link_problem(session, item_id, problem)  # type: ignore[arg-type]

    return Draft(unit_id=item.unit_id, source="评估", description=item.content, requirement="请按评估意见整改并报告。",
                 origin=f"evaluation:{item.number}", link=link)


async def item_closed(session: Any, ctx: Context, origin: str, number: str) -> None:
    item: RoundItem | None = await rounds.item_by_number(session, origin.split(":", 1)[1])
    if item is not None and item.done_on is None:
        await rounds.mark_done(session, item, today_of(ctx.services), ctx.account.user_id if ctx.account else "",
                               f"整改问题 {number} 已销号")


def add_problem_source(sources: ProblemSources) -> None:
    sources.add(ProblemSource(key="evaluation", prefix="PG", label="评估清单号",
                              example="转整改 PG-2027-0001 20个工作日",
                              load=item_draft, on_closed=item_closed))


def register(router: Router) -> None:
    router.add(Command("评估", evaluate, Right.OFFICE_HANDLE,
                       "建立评估批次，登记特色亮点、问题不足（转整改）、完善制度",
                       "评估 年份 批次｜亮点|问题|制度|完成 …", topic="监管评价"))
    router.add(Command("评估清单", show_lists, Right.OFFICE_VIEW, "评估三张清单：数量和进度", "评估清单 [年份 批次]",
                       aliases=("三张清单",), topic="监管评价"))
    router.add(Command("导出评估清单", export_lists, Right.OFFICE_VIEW, "导出评估三张清单 Excel",
                       "导出评估清单 [年份 批次]",
                       topic="监管评价"))
