"""What the 整改 handlers share: finding a problem in the sender's scope, views, recipients, pushes."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.context import Button, Context, Reply
from bot.importing.fields import parse_date, parse_int, years_after
from bot.notify import notify_users
from models import Problem, Unit
from models.accounts.roles import Right, Role
from models.accounts.tables import accounts_with_role, unit_accounts
from models.calendar.workdays import WorkCalendar
from models.rectification.ops import find_problem
from models.rectification.rules import (
    LIGHT_ICONS,
    LIGHT_WORDS,
    days_phrase,
    deadline_from,
    deadline_text,
    deliver_at,
    light,
    local_today,
    number_candidates,
    workdays_left,
)
from models.staffing.queries import unit_by_id

_WORKDAYS = re.compile(r"^(\d{1,3})\s*(个)?(工作日|天|日)?$")
DEADLINE_YEARS = 3  # a deadline or an extension from chat lies at most this many years ahead


def status(kind: str, outcome: str = "ok", **data: Any) -> Reply:
    """A short 整改 answer: one of the kinds of rectification_status.md.j2."""
    return Reply("rectification_status.md.j2", {"kind": kind, **data}, outcome=outcome)


def usage(problem: str, usage_text: str, example: str = "") -> Reply:
    return Reply("usage.md.j2", {"problem": problem, "usage": usage_text, "example": example}, outcome="invalid")


def scope_unit(ctx: Context) -> int | None:
    """None for office users (all units); the unit id for unit users."""
    return None if ctx.can(Right.OFFICE_VIEW) else (ctx.unit.id if ctx.unit else -1)


async def problem_in_scope(session: AsyncSession, ctx: Context, token: str) -> Problem | None:
    """A problem the sender may see; another unit's number looks exactly like an unknown one."""
    for number in number_candidates(token, local_today(ctx.services.clock()).year):
        found = await find_problem(session, number, scope_unit(ctx))
        if found is not None:
            return found
    return None


def not_found(token: str) -> Reply:
    return status("not_found", "not_found", token=token)


def parse_deadline(text: str, cal: WorkCalendar, assigned_on: date) -> date:
    """`2026-12-20` / `2026年12月20日` / `15个工作日` / `15` → a deadline; ValueError in Chinese."""
    text = text.strip()
    m = _WORKDAYS.match(text)
    if m:
        return deadline_from(cal, assigned_on, parse_int(m.group(1), 1, 365, "工作日数"))
    deadline = parse_date(text, high=years_after(assigned_on, DEADLINE_YEARS))
    if deadline < assigned_on:
        raise ValueError(f"期限 {deadline} 早于 {assigned_on}")
    return deadline


def view(problem: Problem, unit: Unit, cal: WorkCalendar, today: date, ctx: Context) -> dict[str, Any]:
    rules = ctx.services.rules
    colour = light(cal, problem.deadline, today, problem.status, rules)
    left = workdays_left(cal, problem.deadline, today)
    return {
        "number": problem.number, "unit": unit.label, "unit_name": unit.name, "source": problem.source,
        "description": problem.description, "requirement": problem.requirement, "status": problem.status,
        "assigned_on": problem.assigned_on.isoformat(), "deadline": deadline_text(cal, problem.deadline),
        "provisional": problem.deadline_provisional, "icon": LIGHT_ICONS[colour], "light": LIGHT_WORDS[colour],
        "colour": colour, "left": left, "left_phrase": "已销号" if colour == "closed" else days_phrase(left),
        "frozen": unit.frozen_since is not None,
    }


async def problem_unit(session: AsyncSession, problem: Problem) -> Unit:
    unit = await unit_by_id(session, unit_id=problem.unit_id)
    assert unit is not None  # a foreign key
    return unit


async def unit_people(session: AsyncSession, unit_id: int, *, leaders: bool = True) -> list[str]:
    people = [a.user_id for a in await unit_accounts(session, unit_id, Role.UNIT_CONTACT)]
    if leaders:
        people += [a.user_id for a in await unit_accounts(session, unit_id, Role.UNIT_LEADER)]
    return list(dict.fromkeys(people))


async def office_people(session: AsyncSession, role: Role = Role.OFFICE_STAFF) -> list[str]:
    return [a.user_id for a in await accounts_with_role(session, role)]


async def push(session: AsyncSession, ctx: Context, *, kind: str, key: str, users: list[str], template: str,
               data: dict[str, Any], buttons: list[Button] | None = None) -> None:
    """A 整改 notification: through the outbox, held outside working hours (quiet hours)."""
    cal = await ctx.services.calendar()
    due = deliver_at(cal, ctx.services.clock(), ctx.services.rules)
    await notify_users(session, ctx.services.renderer, kind=kind, key=key, user_ids=users, template=template,
                       data=data, buttons=buttons, due_at=due)
