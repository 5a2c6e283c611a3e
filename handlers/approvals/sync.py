"""Applying approval items from any source: one transaction for the upserts and the unit notifications.

The file import, `POST /api/approvals` and DingTalk OA events all end here, so the three sources
have the same upsert semantics (models.approvals.ops.upsert_items), the same history events and the
same notifications. A unit hears once per batch: one message for one changed item (as before), one
digest listing the items when several of its items changed in the same import or request.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.notify import notification_rows
from bot.render import Renderer
from models.approvals.ops import Change, ItemData, ItemState, upsert_items
from models.approvals.queries import subscribers_by_unit
from models.approvals.tables import DONE, IN_PROGRESS, RETURNED
from models.base import utcnow
from models.calendar.workdays import WorkCalendar
from models.outbox import enqueue_many, existing_keys
from models.rectification.rules import RectificationRules, deliver_at

DIGEST_LINES = 20  # items listed in one unit's digest
NUMBERS_KEPT = 1000  # item numbers a SyncResult keeps for the audit row (sync_audit)


@dataclass
class SyncResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    notified: int = 0
    numbers: list[str] = field(default_factory=list)  # the first NUMBERS_KEPT items' numbers


@dataclass
class _Told:
    """What one unit will hear about a batch, kept small however many of its items changed: the count,
    a running hash of the notices' keys (the digest's dedup key) and the first DIGEST_LINES items."""

    first: tuple[str, str]  # (kind, key) of the first notice: the message when it stays the only one
    digest: Any = field(default_factory=hashlib.sha1)
    items: list[ItemState] = field(default_factory=list)
    count: int = 0

    def add(self, kind: str, key: str, item: ItemState) -> None:
        self.digest.update(f"{'|' if self.count else ''}{kind}:{key}".encode())
        self.count += 1
        if len(self.items) < DIGEST_LINES:
            self.items.append(item)


class ItemSync:
    """Items applied in as many chunks as the caller likes (`add`), in the caller's transaction; `finish`
    then enqueues what the units must hear about all of them, once per unit. Memory stays bounded by a
    chunk: only counts, the first NUMBERS_KEPT numbers and each unit's _Told are kept between chunks."""

    def __init__(self, session: AsyncSession, *, source: str, cal: WorkCalendar, renderer: Renderer,
                 rules: RectificationRules | None = None, now: datetime | None = None) -> None:
        self.session, self.source, self.cal, self.renderer = session, source, cal, renderer
        self.rules, self.now = rules or RectificationRules(), now or utcnow()
        self.result = SyncResult()
        self.told: dict[int, _Told] = {}

    async def add(self, items: list[ItemData]) -> None:
        """Upsert these items with their history events."""
        result = self.result
        for change in await upsert_items(self.session, items, source=self.source, cal=self.cal, now=self.now):
            if len(result.numbers) < NUMBERS_KEPT:
                result.numbers.append(change.item.number)
            if change.created:
                result.added += 1
            elif change.changed:
                result.updated += 1
            else:
                result.unchanged += 1
            if (notice := _notice(change)) is not None:
                unit_id = change.item.unit_id
                if unit_id not in self.told:
                    self.told[unit_id] = _Told(notice)
                self.told[unit_id].add(*notice, change.item)

    async def finish(self) -> SyncResult:
        """Enqueue one message per unit that has news; the counts of everything added."""
        if self.told:
            self.result.notified = await _notify(self.session, self.told, self.renderer,
                                                 deliver_at(self.cal, self.now, self.rules))
        return self.result


async def apply_items(
    session: AsyncSession, items: list[ItemData], *, source: str, cal: WorkCalendar, renderer: Renderer,
    rules: RectificationRules | None = None, now: datetime | None = None,
) -> SyncResult:
    """Upsert every item and enqueue what units must hear, in the caller's transaction."""
    sync = ItemSync(session, source=source, cal=cal, renderer=renderer, rules=rules, now=now)
    await sync.add(items)
    return await sync.finish()


def _notice(change: Change) -> tuple[str, str] | None:
    """(kind, key) of what the unit hears about this change, if anything."""
    item = change.item
    if change.status_changed and item.status in (DONE, RETURNED):
        return "approval.status", f"{item.id}:{item.status}"
    if change.stage_changed and item.status == IN_PROGRESS:
        return "approval.stage", f"{item.id}:{item.stage}"
    return None


def _data(item: ItemState) -> dict[str, Any]:
    return {"number": item.number, "type": item.type, "title": item.title, "stage": item.stage,
            "status": item.status, "handler": item.handler_name, "working_days": item.working_days}


async def _notify(session: AsyncSession, told: dict[int, _Told], renderer: Renderer, due: datetime) -> int:
    """One message per unit (to its subscribers), enqueued in bulk; returns how many rows were new."""
    people = await subscribers_by_unit(session, unit_ids=set(told))
    rows: list[dict[str, Any]] = []
    for unit_id, notes in told.items():
        users = people.get(unit_id, [])
        if not users:
            continue
        if notes.count == 1:
            kind, key = notes.first
            rows += notification_rows(renderer, kind=kind, key=key, user_ids=users,
                                      template="approval_changed.md.j2", data=_data(notes.items[0]), due_at=due)
            continue
        data = {"items": [_data(item) for item in notes.items], "count": notes.count,
                "more": max(0, notes.count - DIGEST_LINES)}
        rows += notification_rows(renderer, kind="approval.batch", key=f"{unit_id}:{notes.digest.hexdigest()[:20]}",
                                  user_ids=users, template="approval_changed_many.md.j2", data=data, due_at=due)
    seen = await existing_keys(session, [r["dedup_key"] for r in rows])
    new = [r for r in rows if r["dedup_key"] not in seen]
    await enqueue_many(session, new)
    return len(new)
