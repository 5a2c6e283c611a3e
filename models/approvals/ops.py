"""The one upsert of approval items, whatever the source (file, HTTP, DingTalk OA), with its history.

A new item records 提交; a different 当前环节 records 环节 (and restarts the stage clock that 催办
counts from); a different 状态 records 状态; completion stores the working days it took.

`upsert_items` works in batches (one select of the existing items, one bulk insert of the new ones,
one executemany update and one bulk insert of the events per CHUNK items), so a file of 200,000
items costs a few thousand statements, not a million. Chat notes (纪实), 退订/订阅 and OA eventIds
are the other state changes of 审批.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts.tables import Account
from models.approvals.tables import DONE, ApprovalEvent, ApprovalItem, ApprovalOptOut, ProcessedEvent
from models.audit import AuditEvent, audit
from models.base import LOCAL_TZ, utcnow
from models.calendar.workdays import WorkCalendar

CHUNK = 2000  # items per statement batch: bounded memory, well under SQLite's bound-parameter limit
# Core tables: executemany without the ORM's per-row bookkeeping
_ITEMS = SQLModel.metadata.tables["approvalitem"]
_EVENTS = SQLModel.metadata.tables["approvalevent"]
_UPDATE = update(_ITEMS).where(_ITEMS.c.id == bindparam("item_id"))


@dataclass(frozen=True, slots=True)
class ItemData:
    """An approval item as a source reports it (validated, unit resolved)."""

    number: str
    unit_id: int
    type: str
    title: str
    submitted_at: datetime  # aware
    stage: str
    status: str
    handler_user_id: str = ""
    handler_name: str = ""
    completed_at: datetime | None = None  # aware; when status is 已办结
    changed_at: datetime | None = None  # when the source says the stage/status changed (default: now)


@dataclass(slots=True)
class ItemState:
    """What a change leaves in an item (for the notifications)."""

    id: int
    number: str
    unit_id: int
    type: str
    title: str
    stage: str
    status: str
    handler_name: str
    working_days: int | None


@dataclass(slots=True)
class Change:
    item: ItemState
    created: bool = False
    old_stage: str = ""
    old_status: str = ""
    changed: bool = False  # any stored field differs

    @property
    def stage_changed(self) -> bool:
        return not self.created and self.old_stage != self.item.stage

    @property
    def status_changed(self) -> bool:
        return not self.created and self.old_status != self.item.status


def _local_date(moment: datetime) -> date:
    return moment.astimezone(LOCAL_TZ).date()


_COPIED = ("unit_id", "type", "title", "handler_user_id", "handler_name")
_STORED = (*_COPIED, "stage", "stage_since", "status", "completed_at", "completed_on", "working_days")


def _completion(data: ItemData, submitted_on: date, stored_at: datetime | None, cal: WorkCalendar,
                memo: dict[tuple[date, date], int]) -> tuple[datetime | None, date | None, int | None]:
    """Completion moment, date and the working days it took (start day not counted: same day = 0). An
    item submitted on a rest day counts from the next working day: submitted Saturday, finished Monday = 0."""
    if data.status != DONE:
        return None, None, None
    done = data.completed_at or stored_at or data.changed_at or data.submitted_at
    on = _local_date(done)
    key = (submitted_on, on)  # memoised for one batch of items: a file repeats the same dates
    if key not in memo:
        memo[key] = max(0, cal.workdays_between(cal.next_workday(submitted_on), on))
    return done, on, memo[key]


def _chunks(items: list[ItemData]) -> Iterator[list[ItemData]]:
    """Batches of at most CHUNK items, a number at most once per batch (a repeated number starts a new one)."""
    batch: list[ItemData] = []
    numbers: set[str] = set()
    for data in items:
        if len(batch) == CHUNK or data.number in numbers:
            yield batch
            batch, numbers = [], set()
        batch.append(data)
        numbers.add(data.number)
    if batch:
        yield batch


async def upsert_item(session: AsyncSession, data: ItemData, *, source: str, cal: WorkCalendar,
                      now: datetime) -> Change:
    [change] = await upsert_items(session, [data], source=source, cal=cal, now=now)
    return change


async def upsert_items(session: AsyncSession, items: list[ItemData], *, source: str, cal: WorkCalendar,
                       now: datetime) -> list[Change]:
    """Insert or update every item with its history events, in the caller's transaction; one Change
    per item, in order."""
    changes: list[Change] = []
    memo: dict[tuple[date, date], int] = {}
    for batch in _chunks(items):
        changes += await _upsert_batch(session, batch, source=source, cal=cal, now=now, memo=memo)
    return changes


async def _upsert_batch(session: AsyncSession, batch: list[ItemData], *, source: str, cal: WorkCalendar,
                        now: datetime, memo: dict[tuple[date, date], int]) -> list[Change]:
    columns = [col(getattr(ApprovalItem, name)) for name in ("id", "number", "submitted_on", *_STORED)]
    query: Any = core_select(*columns).where(col(ApprovalItem.number).in_([d.number for d in batch]))
    stored = {r.number: r._asdict() for r in (await session.exec(query)).all()}
    new_rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    changes: list[Change] = []
    pending: list[tuple[Change, ItemData]] = []  # new items: their id comes from the insert
    for data in batch:
        at = data.changed_at or now
        old = stored.get(data.number)
        if old is None:
            submitted_on = _local_date(data.submitted_at)
            done_at, done_on, days = _completion(data, submitted_on, None, cal, memo)
            new_rows.append(dict(
                number=data.number, unit_id=data.unit_id, type=data.type, title=data.title,
                submitted_at=data.submitted_at, submitted_on=submitted_on, stage=data.stage,
                stage_since=at if data.changed_at else data.submitted_at, handler_user_id=data.handler_user_id,
                handler_name=data.handler_name, status=data.status, source=source, created_at=now, updated_at=now,
                completed_at=done_at, completed_on=done_on, working_days=days))
            change = Change(_state(0, data, days), created=True, changed=True)
            pending.append((change, data))
            changes.append(change)
            continue
        new = dict(old)
        for name in _COPIED:
            new[name] = getattr(data, name)
        new["completed_at"], new["completed_on"], new["working_days"] = _completion(
            data, old["submitted_on"], old["completed_at"], cal, memo)
        item_id = old["id"]
        if data.stage != old["stage"]:
            new["stage"], new["stage_since"] = data.stage, at
            events.append(_event(item_id, at, "环节", data.stage, "", data.handler_name, source))
        if data.status != old["status"]:
            new["status"] = data.status
            events.append(_event(item_id, at, "状态", data.stage, data.status, data.handler_name, source))
        changed = new != old
        if changed:
            updates.append({name: new[name] for name in _STORED} | {"item_id": item_id, "updated_at": now})
        changes.append(Change(_state(item_id, data, new["working_days"]), old_stage=old["stage"],
                              old_status=old["status"], changed=changed))
    if new_rows:
        inserted = await session.exec(
            insert(_ITEMS).returning(_ITEMS.c.id, _ITEMS.c.number), params=new_rows)
        ids = {number: item_id for item_id, number in inserted.all()}
        for change, data in pending:
            change.item.id = ids[data.number]
            events.append(_event(change.item.id, data.submitted_at, "提交", data.stage, data.status,
                                 data.handler_name, source))
    if updates:
        await session.exec(_UPDATE, params=updates)
    if events:
        await session.exec(insert(_EVENTS), params=events)
    return changes


def _state(item_id: int, data: ItemData, working_days: int | None) -> ItemState:
    return ItemState(item_id, data.number, data.unit_id, data.type, data.title, data.stage, data.status,
                     data.handler_name, working_days)


def _event(item_id: int, at: datetime, kind: str, stage: str, status: str, handler_name: str,
           source: str) -> dict[str, Any]:
    return dict(item_id=item_id, at=at, kind=kind, stage=stage, status=status, handler_name=handler_name,
                detail="", source=source, actor_account_id=None)


async def record_note(session: AsyncSession, *, item: ApprovalItem, at: datetime, stage: str, detail: str,
                      actor: Account | None) -> ApprovalEvent:
    """纪实: a 全程纪实 step recorded by office staff."""
    assert item.id is not None
    event = ApprovalEvent(item_id=item.id, at=at, kind="纪实", stage=stage[:40], detail=detail[:2000],
                          handler_name=actor.name if actor else "", actor_account_id=actor.id if actor else None,
                          source="chat")
    session.add(event)
    audit(session, "approval.note", "approval", item.number, stage[:40],
          actor_account_id=actor.id if actor else None, actor_user_id=actor.user_id if actor else "")
    return event


async def set_opt_out(session: AsyncSession, *, account: Account, out: bool) -> None:
    """退订审批通知 (out) or 订阅审批通知 (not out) for one account."""
    assert account.id is not None
    await session.exec(delete(ApprovalOptOut).where(col(ApprovalOptOut.account_id) == account.id))
    if out:
        session.add(ApprovalOptOut(account_id=account.id))
    audit(session, "approval.opt_out" if out else "approval.opt_in", "account", account.id,
          actor_account_id=account.id, actor_user_id=account.user_id)


async def claim_event(session: AsyncSession, *, event_id: str, event_type: str) -> bool:
    """Record a DingTalk OA eventId in this transaction; False when it is already there (a redelivery)."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ProcessedEvent)
    values = {"event_id": event_id[:128], "event_type": event_type[:60], "received_at": utcnow()}
    result = await session.exec(statement.on_conflict_do_nothing(index_elements=["event_id"]).values(**values))
    return bool(getattr(result, "rowcount", 0))


def audit_sync(session: AsyncSession, *, action: str, source: str, actor_user_id: str, counts: dict[str, Any],
               detail_max: int) -> None:
    """One audit row for a batch of approval items (the items' own history is in ApprovalEvent)."""
    detail = json.dumps({"source": source, **counts}, ensure_ascii=False)
    session.add(AuditEvent(action=action, entity="approval", entity_id=source[:64], actor_user_id=actor_user_id[:64],
                           detail=detail[:detail_max]))


def mark_urged(session: AsyncSession, *, item: ApprovalItem, at: datetime, audience: str) -> None:
    """A 催办 sent to `audience` (经办人 / 编办领导): recorded in the item's 全程纪实, once per stage."""
    assert item.id is not None
    session.add(ApprovalEvent(item_id=item.id, at=at, kind="催办", stage=item.stage, handler_name=item.handler_name,
                              detail=audience))
