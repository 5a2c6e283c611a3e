"""The leaders' Monday message: last week's approvals in one line, and the standing red problems."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from bot.context import Services
from bot.notify import notify_users
from models.accounts.roles import Role
from models.accounts.tables import accounts_with_role
from models.approvals.stats import period_stats
from models.rectification.rules import last_overdue_deadline, local_today
from models.rectification.tables import OPEN_STATUSES, Problem
from models.staffing.persons import Warning
from models.staffing.units import Unit


async def weekly_digest(services: Services, now: datetime | None = None) -> int:
    now = now or services.clock()
    today = local_today(now)
    start = today - timedelta(days=today.weekday() + 7)  # last week's Monday
    end = start + timedelta(days=6)
    async with services.db.write() as session:
        stats = await period_stats(session, start, end)
        red = (await session.exec(select(func.count()).select_from(Problem).where(
            col(Problem.status).in_(OPEN_STATUSES),
            Problem.deadline <= last_overdue_deadline(await services.calendar(), today)))).one()
        frozen = (await session.exec(select(func.count()).select_from(Unit).where(
            col(Unit.frozen_since).is_not(None)))).one()
        severe = (await session.exec(select(func.count()).select_from(Warning).where(
            col(Warning.resolved_on).is_(None), Warning.level == 3))).one()
        retiring = (await session.exec(select(Warning, Unit).join(Unit).where(
            col(Warning.resolved_on).is_(None), Warning.rule == "临退").limit(200))).all()
        soon = sorted(((json.loads(w.evidence).get("退休年月", ""), u.label, json.loads(w.evidence).get("姓名", ""))
                       for w, u in retiring))
        leaders = [a.user_id for a in await accounts_with_role(session, Role.OFFICE_LEADER)]
        rate = stats.same_day_rate
        data = {"start": start.isoformat(), "end": end.isoformat(), "submitted": stats.submitted,
                "rate": f"{rate * 100:.1f}%" if rate is not None else "—", "red": red, "frozen": frozen,
                "severe": severe, "retiring": soon[:10], "retiring_count": len(soon),
                "avg": [(t.type, f"{t.avg_days:.1f}") for t in stats.by_type if t.avg_days is not None]}
        week = today.isocalendar()
        return await notify_users(session, services.renderer, kind="digest.weekly", key=f"{week[0]}-W{week[1]}",
                                  user_ids=leaders, template="weekly_digest.md.j2", data=data)


def register(scheduler: Any, app: Any) -> None:
    scheduler.add_job(weekly_digest, "cron", day_of_week="mon", hour=9, minute=0, args=[app.services],
                      id="weekly-digest", replace_existing=True)
