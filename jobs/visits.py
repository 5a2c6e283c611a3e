"""走访 pushes: each group's plan on the first working day of the month, and a reminder to the members the
working day before a scheduled visit. Both only enqueue, with keys that make a re-run harmless."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from bot.context import Services
from bot.notify import notify_users
from models import VisitGroup
from models.accounts.roles import Role
from models.accounts.tables import accounts_with_role
from models.rectification.rules import deliver_at, local_today
from models.visits.queries import current_plan, group_people, roster_rows, sanding_rows


async def sanding_reminder(services: Services, now: datetime | None = None) -> int:
    """三定规定跟踪问效: on the first working day of each quarter, the office staff get this year's batch
    and how much of it is done."""
    now = now or services.clock()
    cal = await services.calendar()
    today = local_today(now)
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    if cal.next_workday(quarter_start) != today:
        return 0
    async with services.db.write() as session:
        rows = await sanding_rows(session, year=today.year)
        if not rows:
            return 0
        staff = [a.user_id for a in await accounts_with_role(session, Role.OFFICE_STAFF)]
        pending = [u.label for p, u in rows if p.done_on is None]
        return await notify_users(session, services.renderer, kind="sanding.quarter", key=f"{today:%Y-%m}",
                                  user_ids=staff, template="sanding_quarter.md.j2",
                                  data={"year": today.year, "total": len(rows), "pending": pending},
                                  due_at=deliver_at(cal, now, services.rules))


async def visit_pushes(services: Services, now: datetime | None = None) -> int:
    now = now or services.clock()
    cal = await services.calendar()
    today = local_today(now)
    if not cal.is_workday(today):
        return 0
    due = deliver_at(cal, now, services.rules)
    sent = 0
    async with services.db.write() as session:
        plan = await current_plan(session, today.year)
        if plan is None:
            return 0
        rows = await roster_rows(session, plan=plan)
        if cal.next_workday(date(today.year, today.month, 1)) == today:
            by_group: dict[int, list[tuple[str, VisitGroup]]] = defaultdict(list)
            for visit, unit, group in rows:
                if visit.month == today.month:
                    by_group[visit.group_id].append((unit.label, group))
            for group_id, items in by_group.items():
                group = items[0][1]
                sent += await notify_users(
                    session, services.renderer, kind="visit.month", key=f"{plan.id}:{today:%Y-%m}:{group_id}",
                    user_ids=group_people(group), template="visit_month.md.j2", due_at=due,
                    data={"group": group.name, "month": today.month, "units": [u for u, _ in items]})
        tomorrow = cal.add_workdays(today, 1)
        for visit, unit, group in rows:
            if visit.scheduled_on is not None and today < visit.scheduled_on <= tomorrow:
                sent += await notify_users(
                    session, services.renderer, kind="visit.remind", key=f"{visit.id}:{visit.scheduled_on}",
                    user_ids=group_people(group), template="visit_remind.md.j2", due_at=due,
                    data={"group": group.name, "day": visit.scheduled_on.isoformat(), "unit": unit.name,
                          "label": unit.label})
    return sent


def register(scheduler: Any, app: Any) -> None:
    scheduler.add_job(visit_pushes, "cron", hour=8, minute=50, args=[app.services], id="visits",
                      replace_existing=True)
    scheduler.add_job(sanding_reminder, "cron", hour=8, minute=55, args=[app.services], id="sanding",
                      replace_existing=True)
