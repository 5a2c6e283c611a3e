"""预警 [单位], 编制 [单位], 转整改 <预警号> [期限]: warnings from the 实名制 data, in the sender's scope."""

from __future__ import annotations

from typing import Any

from bot.context import Context, Incoming, Reply
from bot.router import Command, Router
from handlers.rectification.common import scope_unit, usage
from handlers.rectification.sources import Draft, ProblemSource, ProblemSources
from models import Problem, Unit, Warning
from models.accounts.roles import Right
from models.staffing.unit_match import match_units
from models.staffing.watchlist import watched_unit_ids
from models.warnings.ops import link_problem
from models.warnings.queries import open_warnings, staff_counts, unit_by_id, warning_by_number
from models.warnings.rules import EST_COLUMNS, POST_COLUMNS, cangong_mislabel
from models.warnings.wording import describe, label

LEVEL_ICONS = {3: "🔴", 2: "🟠", 1: "🔵"}


def _status(kind: str, outcome: str = "ok", **data: Any) -> Reply:
    """The short answers (not found, already done): one template with a `kind` switch."""
    return Reply("warnings_status.md.j2", {"kind": kind, **data}, outcome=outcome)


def _row(w: Warning, unit: Unit, *, private: bool) -> dict[str, Any]:
    personal = w.rule in ("混岗", "超龄未退", "临退", "一人多岗") or (w.rule == "数据不全" and bool(w.subject))
    text = describe(w.rule, w.subject, w.level, w.evidence)
    if personal and not private:  # never show people in a group chat
        text = f"{label(w.rule, w.level)}：1 人（详情请在单聊中查看）"
    return {"number": w.number, "icon": LEVEL_ICONS.get(w.level, ""), "unit": unit.label, "text": text,
            "since": w.first_seen.isoformat(), "problem": w.problem_id is not None}


async def show_warnings(msg: Incoming, ctx: Context) -> Reply:
    units: list[Unit] | None = None
    own = scope_unit(ctx)
    async with ctx.db.read() as session:
        if own is not None:
            unit = await unit_by_id(session, unit_id=own) if own > 0 else None
            units = [unit] if unit else []
        elif ctx.args:
            units = await match_units(session, ctx.args)
            if not units:
                return _status("unit_not_found", "not_found", name=ctx.args)
        rows = await open_warnings(session, unit_ids=None if units is None else [u.id for u in units if u.id])
        watched = await watched_unit_ids(session)  # 监管异常名录: marked
    views = [_row(w, u, private=not msg.is_group) | {"watched": u.id in watched} for w, u in rows]
    counts = {lvl: sum(w.level == lvl for w, _ in rows) for lvl in (3, 2, 1)}
    title = "机构编制预警" if units is None else f"{'、'.join(u.label for u in units)}的机构编制预警"
    return Reply("warnings_list.md.j2", {"title": title, "rows": views[:30], "more": max(0, len(views) - 30),
                                         "counts": counts, "office": own is None})


async def show_establishment(msg: Incoming, ctx: Context) -> Reply:
    own = scope_unit(ctx)
    async with ctx.db.read() as session:
        if own is not None:
            unit = await unit_by_id(session, unit_id=own) if own > 0 else None
        else:
            if not ctx.args:
                return usage("请写上单位。", "编制 单位", "编制 教育局")
            found = await match_units(session, ctx.args)
            if len(found) != 1:
                if found:
                    return _status("ambiguous", "not_found", names="、".join(u.name for u in found))
                return _status("unit_not_found", "not_found", name=ctx.args)
            unit = found[0]
        if unit is None or unit.id is None:
            return _status("no_unit", "invalid")
        by_type, by_post = await staff_counts(session, unit_id=unit.id)
    approved = {t: getattr(unit, c.key) for t, c in EST_COLUMNS.items()}
    mislabel = cangong_mislabel(unit.is_cangong, approved, by_type)
    types = [{"type": t, "approved": approved[t], "actual": by_type.get(t, 0)} for t in EST_COLUMNS]
    for t in types:
        t["vacant"] = None if t["approved"] is None else t["approved"] - t["actual"]
        t["mislabel"] = mislabel and t["type"] in ("行政编制", "事业编制")
    posts = [{"post": f"{lv}{rk}", "approved": getattr(unit, c.key), "actual": by_post.get((lv, rk), 0)}
             for (lv, rk), c in POST_COLUMNS.items()]
    missing = [f"{t['type']}核定数" for t in types if t["approved"] is None and t["actual"]]
    missing += [f"{p['post']}职数" for p in posts if p["approved"] is None and p["actual"]]
    return Reply("establishment.md.j2", {"unit": unit.name, "types": types, "posts": posts, "missing": missing,
                                         "mislabel": mislabel, "frozen": unit.frozen_since is not None})


async def warning_draft(msg: Incoming, ctx: Context, token: str) -> Draft | Reply:
    """转整改 YJ-…: the warning as a problem draft, linked back to the warning."""
    number = token.upper()
    async with ctx.db.read() as session:
        warning, problem = await warning_by_number(session, number=number)
    if warning is None or warning.id is None:
        return _status("warning_not_found", "not_found", token=token)
    if warning.problem_id is not None:
        return _status("converted", number=warning.number, problem=problem.number if problem else "")
    warning_id = warning.id

    async def link(session: Any, problem: Problem) -> None:
        await link_problem(session, warning_id=warning_id, problem=problem, actor=ctx.account)

    return Draft(unit_id=warning.unit_id, source="预警", origin=f"warning:{number}", link=link,
                 description=f"{describe(warning.rule, warning.subject, warning.level, warning.evidence)}（{number}）",
                 requirement="请核实情况，按规定整改并报告。")


def add_problem_source(sources: ProblemSources) -> None:
    sources.add(ProblemSource(key="warning", prefix="YJ", label="预警号", example="转整改 YJ-2026-0003 20个工作日",
                              load=warning_draft))


def register(router: Router) -> None:
    router.add(Command("预警", show_warnings, Right.PROBLEM_VIEW, "查看机构编制预警（超编、超职数、混岗、超龄未退等）",
                       "预警 [单位]", aliases=("编制预警",), topic="预警"))
    router.add(Command("编制", show_establishment, Right.PROBLEM_VIEW, "查看核定与实有编制、领导职数和空编",
                       "编制 [单位]", aliases=("编制情况", "空编"), topic="预警"))



