"""走访 pushes: each group's plan on the first working day of the month, and a reminder to the members the
working day before a scheduled visit. Both only enqueue, with keys that make a re-run harmless."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlmodel import select

from bot.context import Services
from bot.notify import notify_users
from models import PlannedVisit, SandingPlan, Unit, VisitGroup
from models.accounts.roles import Role
from models.accounts.tables import accounts_with_role
from models.rectification.rules import deliver_at, local_today
from models.visits.ops import current_plan, group_people


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
        rows = (await session.exec(select(SandingPlan, Unit).join(Unit).where(SandingPlan.year == today.year))).all()
        if not rows:
            return 0
        staff = [a.user_id for a in await accounts_with_role(session, Role.OFFICE_STAFF)]
        pending = [u.label for p, u in rows if p.done_on is None]
        text = (f"{today.year} 年三定规定跟踪问效共 {len(rows)} 个单位，尚未完成 {len(pending)} 个："
                f"{'、'.join(pending[:30])}{'……' if len(pending) > 30 else ''}。发送 三定问效 {today.year} 查看名单。")
        return await notify_users(session, services.renderer, kind="sanding.quarter", key=f"{today:%Y-%m}",
                                  user_ids=staff, template="message.md.j2", data={"text": text},
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
        rows = (await session.exec(select(PlannedVisit, Unit, VisitGroup).join(Unit).join(VisitGroup).where(
            PlannedVisit.plan_id == plan.id))).all()
        if cal.next_workday(date(today.year, today.month, 1)) == today:
            by_group: dict[int, list[Any]] = defaultdict(list)
            for visit, unit, group in rows:
                if visit.month == today.month:
                    by_group[group.id].append((unit.label, group))  # type: ignore[index]
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
                    user_ids=group_people(group), template="message.md.j2", due_at=due,
                    data={"text": f"提醒：{group.name} {visit.scheduled_on} 走访 {unit.name}。走访后请发送 走访记录 "
                                  f"{unit.label} 发现的情况。"})
    return sent


def register(scheduler: Any, app: Any) -> None:
    scheduler.add_job(visit_pushes, "cron", hour=8, minute=50, args=[app.services], id="visits",
                      replace_existing=True)
    scheduler.add_job(sanding_reminder, "cron", hour=8, minute=55, args=[app.services], id="sanding",
                      replace_existing=True)
