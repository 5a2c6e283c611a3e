"""Applying approval items from any source: one transaction for the upserts and the unit notifications.

The file import, `POST /api/approvals` and DingTalk OA events all end here, so the three sources
have the same upsert semantics, the same history events and the same notifications.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.notify import notify_users
from bot.render import Renderer
from models.accounts.roles import Role
from models.accounts.tables import unit_accounts
from models.approvals.ops import Change, ItemData, upsert_item
from models.approvals.tables import DONE, IN_PROGRESS, RETURNED, ApprovalOptOut
from models.base import utcnow
from models.calendar.workdays import WorkCalendar
from models.rectification.rules import RectificationRules, deliver_at


@dataclass
class SyncResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    notified: int = 0
    numbers: list[str] = field(default_factory=list)


async def apply_items(
    session: AsyncSession, items: list[ItemData], *, source: str, cal: WorkCalendar, renderer: Renderer,
    rules: RectificationRules | None = None, now: Any = None,
) -> SyncResult:
    """Upsert every item and enqueue what units must hear, in the caller's transaction."""
    now = now or utcnow()
    rules = rules or RectificationRules()
    result = SyncResult()
    for data in items:
        change = await upsert_item(session, data, source=source, cal=cal, now=now)
        result.numbers.append(change.item.number)
        if change.created:
            result.added += 1
        elif change.changed:
            result.updated += 1
        else:
            result.unchanged += 1
        result.notified += await _notify(session, change, renderer, deliver_at(cal, now, rules))
    return result


async def subscribers(session: AsyncSession, unit_id: int) -> list[str]:
    """The unit's contacts and leaders, minus those who sent 退订审批通知."""
    people = [*await unit_accounts(session, unit_id, Role.UNIT_CONTACT),
              *await unit_accounts(session, unit_id, Role.UNIT_LEADER)]
    opted_out = set((await session.exec(select(ApprovalOptOut.account_id))).all())
    return list(dict.fromkeys(a.user_id for a in people if a.id not in opted_out))


async def _notify(session: AsyncSession, change: Change, renderer: Renderer, due: Any) -> int:
    item = change.item
    if change.status_changed and item.status in (DONE, RETURNED):
        kind, key = "approval.status", f"{item.id}:{item.status}"
    elif change.stage_changed and item.status == IN_PROGRESS:
        kind, key = "approval.stage", f"{item.id}:{item.stage}"
    else:
        return 0
    users = await subscribers(session, item.unit_id)
    data = {"number": item.number, "type": item.type, "title": item.title, "stage": item.stage,
            "status": item.status, "handler": item.handler_name, "working_days": item.working_days}
    return await notify_users(session, renderer, kind=kind, key=key, user_ids=users,
                              template="approval_changed.md.j2", data=data, due_at=due)
