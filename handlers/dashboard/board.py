"""What the 监督看板 shows to whom: one section per capability, each behind the rights its chat
commands need (models/accounts/roles.py), each filled by that capability's query functions.

A unit's contact or leader sees only their unit; the office sees every unit; a supervisor sees the
feedback they filed; the administrator sees no business data. A new capability (e.g. 考评) adds
one `Section` to `SECTIONS` and one `dashboard_<key>.html.j2` partial: nothing else changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.context import Context, Services
from handlers.rectification.common import view
from models.accounts.roles import Right, Role, rights_of
from models.accounts.tables import account_by_user
from models.approvals.board import month_starts, months_and_types, stuck_items
from models.base import LOCAL_TZ, to_local
from models.feedback.queries import stats as feedback_stats
from models.rectification.board import light_bounds, lights_by_unit, unit_problems
from models.staffing.queries import unit_by_id
from models.visits.board import coverage
from models.warnings.board import LEVELS, open_by_kind, units_with_most

STUCK_AFTER = 3  # working days in one stage, as 催办 (jobs/approvals.py)


async def viewer(services: Services, user_id: str) -> Context:
    """The signed-in user as the chat commands see them: account, roles, rights, unit."""
    async with services.db.read() as session:
        account = await account_by_user(session, user_id)
        unit = await unit_by_id(session, unit_id=account.unit_id) if account and account.unit_id else None
    roles = [Role(r) for r in account.role_codes] if account else []
    return Context(services, account, roles, rights_of(roles), unit)


def unit_scope(ctx: Context) -> int | None:
    """None for the office (every unit), else the viewer's own unit id (-1 when they have none)."""
    if ctx.can(Right.OFFICE_VIEW):
        return None
    return ctx.unit.id if ctx.unit is not None and ctx.unit.id is not None else -1


def sees_units(ctx: Context) -> bool:
    return ctx.can(Right.OFFICE_VIEW) or ctx.can(Right.UNIT_OWN)


@dataclass(frozen=True)
class Section:
    key: str  # the partial dashboard_<key>.html.j2 renders it
    title: str
    allowed: Callable[[Context], bool]
    load: Callable[[Context, datetime], Awaitable[dict[str, Any]]]


async def _read(ctx: Context, query: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """One query function in its own read session, so that independent queries run side by side."""
    async with ctx.db.read() as session:
        return await query(session, *args)


def _stamp(now: datetime) -> str:
    return to_local(now).strftime("%Y-%m-%d %H:%M")


async def _lights(ctx: Context, now: datetime) -> dict[str, Any]:
    today = to_local(now).date()
    cal = await ctx.services.calendar()
    red_before, green_from = light_bounds(cal, today, ctx.services.rules.yellow_days)
    async with ctx.db.read() as session:
        units = await lights_by_unit(session, red_before, green_from, unit_scope(ctx))
    return {"units": units, "totals": {k: sum(getattr(u, k) for u in units) for k in ("red", "yellow", "green")},
            "frozen": sum(u.frozen_since is not None for u in units), "yellow_days": ctx.services.rules.yellow_days}


async def _approvals(ctx: Context, now: datetime) -> dict[str, Any]:
    today = to_local(now).date()
    months = month_starts(today)
    cal = await ctx.services.calendar()
    day = today
    while cal.workdays_between(day, today) <= STUCK_AFTER and today - day < timedelta(days=60):
        day -= timedelta(days=1)
    stage_before = datetime.combine(day + timedelta(days=1), datetime.min.time(), LOCAL_TZ).astimezone(UTC)
    scope = unit_scope(ctx)
    (rates, types), (stuck_total, stuck) = await asyncio.gather(
        _read(ctx, months_and_types, months, scope), _read(ctx, stuck_items, stage_before, scope))
    return {
        "months": [{"label": f"{m.month.month}月", "submitted": m.submitted,
                    "same_day": m.same_day, "rate": None if m.rate is None else round(100 * m.rate, 1)}
                   for m in rates],
        "has_rates": any(m.submitted for m in rates),
        "types": [{"type": t.type, "avg": round(t.avg_days, 1), "done": t.done}
                  for t in types if t.avg_days is not None],
        "since": months[0].isoformat(), "first": f"{months[0].year}年{months[0].month}月",
        "last": f"{months[-1].year}年{months[-1].month}月", "stuck_total": stuck_total, "stuck_after": STUCK_AFTER,
        "stuck": [{"number": s.number, "title": s.title, "type": s.type, "unit": s.unit, "stage": s.stage,
                   "handler": s.handler, "since": to_local(s.stage_since).strftime("%m-%d"),
                   "days": cal.workdays_between(to_local(s.stage_since).date(), today)} for s in stuck],
    }


async def _warnings(ctx: Context, now: datetime) -> dict[str, Any]:
    scope = unit_scope(ctx)
    async with ctx.db.read() as session:
        kinds = await open_by_kind(session, scope)
        top = await units_with_most(session, 10, scope) if scope is None else []
    return {"kinds": [{"rule": rule, **{LEVELS[lv]: by_level.get(lv, 0) for lv in LEVELS},
                       "total": sum(by_level.values())} for rule, by_level in kinds.items()],
            "levels": list(LEVELS.values()), "total": sum(sum(v.values()) for v in kinds.values()),
            "top": top, "office": scope is None}


async def _visits(ctx: Context, now: datetime) -> dict[str, Any]:
    today = to_local(now).date()
    async with ctx.db.read() as session:
        cov = await coverage(session, today)
    return {"cov": cov, "month": today.month}


def _quarters(year: int) -> list[tuple[str, date, date]]:
    return [(f"{q + 1}季度", date(year, 3 * q + 1, 1), date(year + (q == 3), (3 * q + 3) % 12 + 1, 1))
            for q in range(4)]


async def _feedback(ctx: Context, now: datetime) -> dict[str, Any]:
    today = to_local(now).date()
    mine = None if ctx.can(Right.OFFICE_VIEW) else (ctx.account.id if ctx.account else -1)
    rows = []
    async with ctx.db.read() as session:
        for label, start, end in _quarters(today.year):
            if start > today:
                break
            begin = datetime.combine(start, datetime.min.time(), LOCAL_TZ).astimezone(UTC)
            finish = datetime.combine(end, datetime.min.time(), LOCAL_TZ).astimezone(UTC)
            s = await feedback_stats(session, begin, finish, supervisor_id=mine)
            rows.append({"quarter": label, "heard": s.heard, "accepted": s.accepted, "answered": s.answered,
                         "to_problems": s.to_problems, "avg": None if s.avg_days is None else round(s.avg_days, 1)})
    return {"rows": rows, "year": today.year, "mine": mine is not None, "any": any(r["heard"] for r in rows)}


SECTIONS: list[Section] = [
    Section("lights", "整改亮灯", lambda c: c.can(Right.PROBLEM_VIEW) and sees_units(c), _lights),
    Section("approvals", "审批", sees_units, _approvals),
    Section("warnings", "预警", lambda c: c.can(Right.PROBLEM_VIEW) and sees_units(c), _warnings),
    Section("visits", "下沉走访", lambda c: c.can(Right.OFFICE_VIEW), _visits),
    Section("feedback", "监督员反馈", lambda c: c.can(Right.OFFICE_VIEW) or c.can(Right.FEEDBACK_FILE), _feedback),
    # 考评 (evaluation) lands here: Section("evaluation", "考评", <right>, <loader>) + dashboard_evaluation.html.j2
]


async def board(ctx: Context) -> dict[str, Any]:
    """The sections this viewer may see, each with its data and the moment it was computed."""
    now = ctx.services.clock()
    await ctx.services.calendar()  # loaded once, before the sections read it concurrently
    shown = [section for section in SECTIONS if section.allowed(ctx)]
    loaded = await asyncio.gather(*(section.load(ctx, now) for section in shown))  # one read session each
    sections = [{"key": s.key, "title": s.title, "data": data} for s, data in zip(shown, loaded, strict=True)]
    return {"sections": sections, "as_of": _stamp(now)}


async def unit_page(ctx: Context, unit_id: int) -> dict[str, Any] | None:
    """One unit's problems with deadlines and history; None when the viewer may not see that unit."""
    if not (ctx.can(Right.PROBLEM_VIEW) and sees_units(ctx)):
        return None
    scope = unit_scope(ctx)
    if scope is not None and scope != unit_id:
        return None
    now = ctx.services.clock()
    today = to_local(now).date()
    cal = await ctx.services.calendar()
    async with ctx.db.read() as session:
        unit = await unit_by_id(session, unit_id=unit_id)
        if unit is None:
            return None
        problems = await unit_problems(session, unit_id, now - timedelta(days=90))
    rows = []
    for p in problems:
        row = view(p.problem, unit, cal, today, ctx)
        row["events"] = [{"at": to_local(e.at).strftime("%Y-%m-%d %H:%M"), "who": e.actor_name, "action": e.action,
                          "detail": e.detail if not e.detail.startswith("{") else ""} for e in p.events]
        rows.append(row)
    return {"unit": unit, "problems": rows, "as_of": _stamp(now)}
