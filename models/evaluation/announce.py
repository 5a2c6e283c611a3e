"""The 年度定级 result and 异常名录 changes, told to the people they concern.

Shared by the January job and the office's commands (年度定级, 异常名录 加入/移出). Models render
nothing: the caller passes `notify`, bot.notify.notify_users with its renderer bound, and the
delivery time `due` (the send window).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts.roles import Role
from models.accounts.tables import accounts_with_role, people_by_unit
from models.calendar.workdays import WorkCalendar
from models.evaluation import ops, watch
from models.evaluation.rules import EvaluationRules
from models.evaluation.scoring import score_year
from models.rectification.rules import local_today
from models.staffing.units import Unit
from models.staffing.watchlist import SOURCE_LABELS, WatchEntry

Notify = Callable[..., Awaitable[int]]  # (session, *, kind, key, user_ids, template, data, due_at) -> sent


async def _users(session: AsyncSession, role: Role) -> list[str]:
    return [a.user_id for a in await accounts_with_role(session, role)]


async def announce_annual(session: AsyncSession, *, year: int, now: datetime, cal: WorkCalendar,
                          rules: EvaluationRules, due: datetime, notify: Notify) -> dict[str, Any] | None:
    """年度定级 and its consequences: 约谈 tasks to the office, 黑名单 to the leaders, 不达标 units onto
    the 异常名录 (each told). Idempotent: a second run reports the stored result."""
    results = await score_year(session, year, date(year, 12, 31), cal, rules)
    if not results:
        return None
    outcome = await ops.finalize_year(session, year, results, rules, now)
    names = {r.unit_id: r.name for r in results}
    data: dict[str, Any] = {
        "year": year, "new": outcome.new,
        "counts": {t: sum(v == t for v in outcome.tiers.values()) for t in ("优秀", "良好", "达标", "不达标")},
        "bottom": [names[u] for u in sorted(outcome.bottom, key=lambda u: names[u])],
        "failing": [names[u] for u in outcome.failing],
        "interviews": [names[u] for u in outcome.interviews],
        "blacklisted": [names[u] for u in outcome.blacklisted],
    }
    if not outcome.new:
        return data
    office = await _users(session, Role.OFFICE_STAFF) + await _users(session, Role.OFFICE_LEADER)
    if outcome.interviews:
        await notify(session, kind="evaluation.interview", key=str(year), user_ids=office,
                     template="evaluation_interview_task.md.j2", data=data, due_at=due)
    if outcome.blacklisted:
        await notify(session, kind="evaluation.blacklist", key=str(year),
                     user_ids=await _users(session, Role.OFFICE_LEADER),
                     template="evaluation_blacklist.md.j2", data=data, due_at=due)
    if rules.watch_failing:
        for unit_id in outcome.failing:
            entry = await watch.enter(session, unit_id, "tier", f"{year} 年度考评不达标", local_today(now))
            if entry is not None:
                await tell_watch(session, entry=entry, entered=True, due=due, notify=notify)
    return data


async def tell_watch(session: AsyncSession, *, entry: WatchEntry, entered: bool, due: datetime,
                     notify: Notify) -> None:
    """An entry to or exit from the 异常名录, told to the unit (contacts and leaders)."""
    unit = await session.get(Unit, entry.unit_id)
    people = await people_by_unit(session)
    users = people.get(Role.UNIT_CONTACT, {}).get(entry.unit_id, []) + people.get(Role.UNIT_LEADER, {}).get(
        entry.unit_id, [])
    data = {"unit": unit.name if unit else "", "entered": entered, "source": SOURCE_LABELS.get(entry.source, ""),
            "reason": entry.reason if entered else entry.exit_reason}
    await notify(session, kind=f"watchlist.{'enter' if entered else 'leave'}", key=str(entry.id), user_ids=users,
                 template="watch_notice.md.j2", data=data, due_at=due)
