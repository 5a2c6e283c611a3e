"""催办: an approval item too long in one stage reminds its handler, then tells the office leaders.

Defaults (domain.md): more than 3 working days in a stage → the handler; more than 5 → the office
leaders. The dedup key carries the stage's start, so each stage is urged at most once per person.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import select

from bot.context import Services
from bot.notify import notify_users
from bot.roles import Role
from models.accounts import accounts_with_role
from models.approvals import IN_PROGRESS, ApprovalEvent, ApprovalItem
from models.rectification import deliver_at, local_today

HANDLER_AFTER, LEADER_AFTER = 3, 5


async def urge_stuck_items(services: Services, now: datetime | None = None) -> int:
    now = now or services.clock()
    cal = await services.calendar()
    today = local_today(now)
    if not cal.is_workday(today):
        return 0
    due = deliver_at(cal, now, services.rules)
    sent = 0
    async with services.db.write() as session:
        leaders = [a.user_id for a in await accounts_with_role(session, Role.OFFICE_LEADER)]
        items = (await session.exec(select(ApprovalItem).where(ApprovalItem.status == IN_PROGRESS))).all()
        for item in items:
            days = cal.workdays_between(local_today(item.stage_since), today)
            if days <= HANDLER_AFTER:
                continue
            data = {"number": item.number, "type": item.type, "title": item.title, "stage": item.stage,
                    "handler": item.handler_name, "days": days}
            key = f"{item.id}:{item.stage_since.isoformat()}"
            if item.handler_user_id:
                added = await notify_users(session, services.renderer, kind="approval.urge", key=key,
                                           user_ids=[item.handler_user_id], template="approval_urge.md.j2",
                                           data=data | {"to_leader": False}, due_at=due)
                if added:
                    session.add(ApprovalEvent(item_id=item.id, at=now, kind="催办", stage=item.stage,  # type: ignore[arg-type]
                                              handler_name=item.handler_name, detail=f"本环节已 {days} 个工作日"))
                sent += added
            if days > LEADER_AFTER:
                sent += await notify_users(session, services.renderer, kind="approval.escalate", key=key,
                                           user_ids=leaders, template="approval_urge.md.j2",
                                           data=data | {"to_leader": True}, due_at=due)
    return sent


def register(scheduler: Any, app: Any) -> None:
    scheduler.add_job(urge_stuck_items, "cron", hour=9, minute=5, args=[app.services], id="urge",
                      replace_existing=True)
    scheduler.add_job(urge_stuck_items, "date", args=[app.services], id="urge-startup", replace_existing=True)
