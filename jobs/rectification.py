"""The reminder ladder and the freeze flag: a daily scan that only *enqueues* (the outbox delivers).

Runs at 08:45 on every day (it does nothing on rest days) and once at start-up, so a bot that
was down at 08:45 still reminds today. Every rung has a dedup key
`problem.remind:<problem>:r<revision>:<rung>:<user>`, so running the scan twice sends nothing twice,
and a changed deadline (a new revision) starts a fresh ladder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.context import Services
from bot.notify import notification_rows
from models.accounts.roles import Role
from models.accounts.tables import people_by_unit
from models.calendar.workdays import WorkCalendar
from models.outbox import enqueue_many, existing_keys
from models.rectification.ops import REMIND_KIND, update_freezes
from models.rectification.queries import open_problem_rows
from models.rectification.rules import (
    LIGHT_ICONS,
    Slot,
    days_phrase,
    deadline_text,
    end_of_workday,
    ladder_slots,
    light,
    local_today,
    workdays_left,
)
from models.rectification.tables import IN_REVIEW

log = logging.getLogger(__name__)


@dataclass
class ScanResult:
    problems: int = 0
    reminders: int = 0  # new outbox rows
    frozen: int = 0
    unfrozen: int = 0


async def scan_ladder(services: Services, now: datetime | None = None) -> ScanResult:
    """Enqueue today's rungs for every open problem and update the freeze flags."""
    now = now or services.clock()
    cal, rules = await services.calendar(), services.rules
    today = local_today(now)
    remind = cal.is_workday(today) and now < end_of_workday(today, rules)
    due = max(now, _at(today, rules.send_at))
    result = ScanResult()
    async with services.db.write() as session:
        people = await people_by_unit(session)
        contacts, leaders = people.get(Role.UNIT_CONTACT, {}), people.get(Role.UNIT_LEADER, {})
        office_leaders = people.get(Role.OFFICE_LEADER, {}).get(0, [])
        rows = await open_problem_rows(session)
        overdue_by_unit: dict[int, int] = {}
        left_cache: dict[date, int] = {}
        rungs: list[tuple[_Open, Slot, int, list[str]]] = []
        for row in rows:
            result.problems += 1
            problem = _Open(*row)
            left = left_cache.get(problem.deadline)
            if left is None:
                left = left_cache[problem.deadline] = workdays_left(cal, problem.deadline, today)
            if problem.status != IN_REVIEW and left < 0:
                overdue_by_unit[problem.unit_id] = max(overdue_by_unit.get(problem.unit_id, 0), -left)
            if remind:
                for slot in ladder_slots(left, problem.status, rules):
                    users = {"unit": contacts.get(problem.unit_id, []),
                             "unit_leader": leaders.get(problem.unit_id, []),
                             "office_leader": office_leaders}[slot.audience]
                    if users:
                        rungs.append((problem, slot, left, users))
        if rungs:
            result.reminders = await _enqueue_rungs(session, services, rungs, today, due)
        result.frozen, result.unfrozen = await update_freezes(
            session, overdue_by_unit=overdue_by_unit, today=today, limit=services.rules.freeze_after)
    log.info("ladder scan %s: %s", today, result)
    return result


async def _enqueue_rungs(session: Any, services: Services, rungs: list[tuple[_Open, Slot, int, list[str]]],
                         today: date, due: datetime) -> int:
    """Render and insert only the rungs not enqueued before (a second scan the same day is cheap)."""
    cal, rules = await services.calendar(), services.rules
    keys = [f"{REMIND_KIND}:{p.id}:r{p.revision}:{slot.key}:{u}" for p, slot, _, users in rungs for u in users]
    done = await existing_keys(session, keys)
    rows: list[dict[str, Any]] = []
    for problem, slot, left, users in rungs:
        key = f"{problem.id}:r{problem.revision}:{slot.key}"
        fresh = [u for u in users if f"{REMIND_KIND}:{key}:{u}" not in done]
        if fresh:
            rows += notification_rows(
                services.renderer, kind=REMIND_KIND, key=key, user_ids=fresh, template="problem_reminder.md.j2",
                data=_reminder_data(problem, cal, today, left, slot.audience, services), due_at=due,
                expires_at=end_of_workday(today, rules), mergeable=True)
    await enqueue_many(session, rows)
    return len(rows)


def _at(day: date, moment: Any) -> datetime:
    from models.base import LOCAL_TZ

    return datetime.combine(day, moment, LOCAL_TZ)


@dataclass(frozen=True)
class _Open:
    """The columns of an open problem the scan needs (not whole ORM objects: 100,000 of them)."""

    id: int
    number: str
    unit_id: int
    deadline: date
    revision: int
    status: str
    description: str
    provisional: bool
    unit_name: str


def _reminder_data(problem: _Open, cal: WorkCalendar, today: date, left: int, audience: str,
                   services: Services) -> dict[str, Any]:
    colour = light(cal, problem.deadline, today, problem.status, services.rules)
    return {"number": problem.number, "icon": LIGHT_ICONS[colour], "description": problem.description,
            "deadline": deadline_text(cal, problem.deadline), "provisional": problem.provisional,
            "left": left, "left_phrase": days_phrase(left), "audience": audience, "unit_name": problem.unit_name}


def register(scheduler: Any, app: Any) -> None:
    scheduler.add_job(scan_ladder, "cron", hour=8, minute=45, args=[app.services], id="ladder",
                      replace_existing=True)


async def catch_up(services: Services) -> None:
    """At start-up: a bot that was down at 08:45 still reminds today (the keys make it harmless)."""
    await scan_ladder(services)
