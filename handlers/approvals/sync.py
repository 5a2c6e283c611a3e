"""Applying approval items from any source: one transaction for the upserts and the unit notifications.

The file import, `POST /api/approvals` and DingTalk OA events all end here, so the three sources
have the same upsert semantics (models.approvals.ops.upsert_items), the same history events and the
same notifications. A unit hears once per batch: one message for one changed item (as before), one
digest listing the items when several of its items changed in the same import or request.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.notify import notification_rows
from bot.render import Renderer
from models.approvals.ops import Change, ItemData, upsert_items
from models.approvals.queries import subscribers_by_unit
from models.approvals.tables import DONE, IN_PROGRESS, RETURNED
from models.base import utcnow
from models.calendar.workdays import WorkCalendar
from models.outbox import enqueue_many, existing_keys
from models.rectification.rules import RectificationRules, deliver_at

DIGEST_LINES = 20  # items listed in one unit's digest


@dataclass
class SyncResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    notified: int = 0
    numbers: list[str] = field(default_factory=list)


async def apply_items(
    session: AsyncSession, items: list[ItemData], *, source: str, cal: WorkCalendar, renderer: Renderer,
    rules: RectificationRules | None = None, now: datetime | None = None,
) -> SyncResult:
    """Upsert every item and enqueue what units must hear, in the caller's transaction."""
    now = now or utcnow()
    result = SyncResult()
    told: dict[int, list[tuple[str, str, Change]]] = defaultdict(list)
    for change in await upsert_items(session, items, source=source, cal=cal, now=now):
        result.numbers.append(change.item.number)
        if change.created:
            result.added += 1
        elif change.changed:
            result.updated += 1
        else:
            result.unchanged += 1
        if (notice := _notice(change)) is not None:
            told[change.item.unit_id].append((*notice, change))
    if told:
        result.notified = await _notify(session, told, renderer, deliver_at(cal, now, rules or RectificationRules()))
    return result


def _notice(change: Change) -> tuple[str, str] | None:
    """(kind, key) of what the unit hears about this change, if anything."""
    item = change.item
    if change.status_changed and item.status in (DONE, RETURNED):
        return "approval.status", f"{item.id}:{item.status}"
    if change.stage_changed and item.status == IN_PROGRESS:
        return "approval.stage", f"{item.id}:{item.stage}"
    return None


def _data(change: Change) -> dict[str, Any]:
    item = change.item
    return {"number": item.number, "type": item.type, "title": item.title, "stage": item.stage,
            "status": item.status, "handler": item.handler_name, "working_days": item.working_days}


async def _notify(session: AsyncSession, told: dict[int, list[tuple[str, str, Change]]], renderer: Renderer,
                  due: datetime) -> int:
    """One message per unit (to its subscribers), enqueued in bulk; returns how many rows were new."""
    people = await subscribers_by_unit(session, unit_ids=set(told))
    rows: list[dict[str, Any]] = []
    for unit_id, notes in told.items():
        users = people.get(unit_id, [])
        if not users:
            continue
        if len(notes) == 1:
            kind, key, change = notes[0]
            rows += notification_rows(renderer, kind=kind, key=key, user_ids=users,
                                      template="approval_changed.md.j2", data=_data(change), due_at=due)
            continue
        digest = hashlib.sha1("|".join(f"{k}:{key}" for k, key, _ in notes).encode()).hexdigest()[:20]
        data = {"items": [_data(c) for _, _, c in notes[:DIGEST_LINES]], "count": len(notes),
                "more": max(0, len(notes) - DIGEST_LINES)}
        rows += notification_rows(renderer, kind="approval.batch", key=f"{unit_id}:{digest}", user_ids=users,
                                  template="approval_changed_many.md.j2", data=data, due_at=due)
    seen = await existing_keys(session, [r["dedup_key"] for r in rows])
    new = [r for r in rows if r["dedup_key"] not in seen]
    await enqueue_many(session, new)
    return len(new)
