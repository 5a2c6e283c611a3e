"""The calendar cliff: from 1 November, a weekly reminder to the administrators until next
year's holiday arrangement is loaded (models.calendar.coverage)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.context import Services
from bot.notify import notify_users
from models.accounts.roles import Role
from models.accounts.tables import accounts_with_role
from models.calendar.coverage import cliff_advice, cliff_year
from models.rectification.rules import local_today


async def remind_calendar_cliff(services: Services, now: datetime | None = None) -> int:
    """Enqueue this week's reminder (once per ISO week and admin); returns how many were new."""
    today = local_today(now or services.clock())
    year = cliff_year(await services.calendar(), today)
    if year is None:
        return 0
    week = today.isocalendar()
    async with services.db.write() as session:
        admins = [a.user_id for a in await accounts_with_role(session, Role.ADMIN)]
        return await notify_users(session, services.renderer, kind="calendar.cliff", key=f"{year}:{week[0]}-W{week[1]}",
                                  user_ids=admins, template="message.md.j2", data={"text": cliff_advice(year)})


def register(scheduler: Any, app: Any) -> None:
    scheduler.add_job(remind_calendar_cliff, "cron", day_of_week="mon", hour=9, minute=5, args=[app.services],
                      id="calendar-cliff", replace_existing=True)
