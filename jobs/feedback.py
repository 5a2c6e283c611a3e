"""Feedback not answered within 10 working days (default) reminds the office staff, once per report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.context import Services
from bot.notify import notify_users
from models.accounts.roles import Role
from models.accounts.tables import accounts_with_role
from models.feedback.queries import open_reports
from models.rectification.rules import deliver_at, local_today


async def remind_overdue_feedback(services: Services, now: datetime | None = None) -> int:
    now = now or services.clock()
    cal = await services.calendar()
    today = local_today(now)
    async with services.db.write() as session:
        rows = await open_reports(session)
        within = services.config.feedback.answer_within_days
        late = [f for f in rows if cal.workdays_between(local_today(f.created_at), today) > within]
        if not late:
            return 0
        duty = services.config.feedback.duty_user_ids
        staff = list(duty) if duty else [
            a.user_id for a in await accounts_with_role(session, Role.OFFICE_STAFF)]
        sent = 0
        for f in late:
            sent += await notify_users(session, services.renderer, kind="feedback.overdue", key=f.number,
                                       user_ids=staff, template="feedback_overdue.md.j2", mergeable=True,
                                       due_at=deliver_at(cal, now, services.rules),
                                       data={"number": f.number, "content": f.content,
                                             "days": cal.workdays_between(local_today(f.created_at), today)})
        return sent


def register(scheduler: Any, app: Any) -> None:
    scheduler.add_job(remind_overdue_feedback, "cron", hour=9, minute=10, args=[app.services], id="feedback-overdue",
                      replace_existing=True)
