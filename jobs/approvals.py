"""催办: approval items too long in one stage remind their handler, then the office leaders.

Defaults (docs/rules.md): more than 3 working days in a stage → the handler; more than 5 → the office
leaders. Each item is urged at most once per stage and audience (a 催办 event in its 全程纪实 marks
it), and each person gets one message per run listing their items, not one message per item.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from bot.context import Services
from bot.notify import notify_users
from models.accounts.roles import Role
from models.accounts.tables import accounts_with_role
from models.approvals.ops import mark_urged
from models.approvals.queries import open_items, urged_in_stage
from models.rectification.rules import deliver_at, local_today

HANDLER_AFTER, LEADER_AFTER = 3, 5
TO_HANDLER, TO_LEADERS = "经办人", "编办领导"


async def urge_stuck_items(services: Services, now: datetime | None = None) -> int:
    """Enqueue today's 催办 messages; returns how many messages were added."""
    now = now or services.clock()
    cal = await services.calendar()
    today = local_today(now)
    if not cal.is_workday(today):
        return 0
    async with services.db.write() as session:
        items = await open_items(session)
        urged = await urged_in_stage(session)
        by_handler: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for_leaders: list[dict[str, Any]] = []
        for item in items:
            days = cal.workdays_between(local_today(item.stage_since), today)
            row = {"number": item.number, "type": item.type, "title": item.title, "stage": item.stage,
                   "handler": item.handler_name, "days": days}
            if days > HANDLER_AFTER and item.handler_user_id and (item.id, TO_HANDLER) not in urged:
                by_handler[item.handler_user_id].append(row)
                mark_urged(session, item=item, at=now, audience=TO_HANDLER)
            if days > LEADER_AFTER and (item.id, TO_LEADERS) not in urged:
                for_leaders.append(row)
                mark_urged(session, item=item, at=now, audience=TO_LEADERS)
        due = deliver_at(cal, now, services.rules)
        sent = 0
        for user, rows in by_handler.items():
            sent += await _send(session, services, [user], rows, False, now, due)
        if for_leaders:
            leaders = [a.user_id for a in await accounts_with_role(session, Role.OFFICE_LEADER)]
            sent += await _send(session, services, leaders, for_leaders, True, now, due)
    return sent


async def _send(session: Any, services: Services, users: list[str], rows: list[dict[str, Any]], to_leader: bool,
                now: datetime, due: datetime) -> int:
    rows.sort(key=lambda r: -r["days"])
    data = {"items": rows[:10], "count": len(rows), "to_leader": to_leader,
            "limit": LEADER_AFTER if to_leader else HANDLER_AFTER}
    return await notify_users(session, services.renderer, kind="approval.urge", key=now.isoformat(),
                              user_ids=users, template="approval_urge.md.j2", data=data, due_at=due)


def register(scheduler: Any, app: Any) -> None:
    scheduler.add_job(urge_stuck_items, "cron", hour=9, minute=5, args=[app.services], id="urge",
                      replace_existing=True)


async def catch_up(services: Services) -> None:
    await urge_stuck_items(services)
