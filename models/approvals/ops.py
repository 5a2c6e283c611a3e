"""The one upsert of approval items, whatever the source (file, HTTP, DingTalk OA), with its history.

A new item records 提交; a different 当前环节 records 环节 (and restarts the stage clock that 催办
counts from); a different 状态 records 状态; completion stores the working days it took.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.approvals.tables import DONE, ApprovalEvent, ApprovalItem
from models.base import LOCAL_TZ
from models.calendar.workdays import WorkCalendar


@dataclass(frozen=True)
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


@dataclass
class Change:
    item: ApprovalItem
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


def _local_date(moment: datetime):
    return moment.astimezone(LOCAL_TZ).date()


async def upsert_item(session: AsyncSession, data: ItemData, *, source: str, cal: WorkCalendar,
                      now: datetime) -> Change:
    item = (await session.exec(select(ApprovalItem).where(ApprovalItem.number == data.number))).first()
    at = data.changed_at or now
    if item is None:
        item = ApprovalItem(
            number=data.number, unit_id=data.unit_id, type=data.type, title=data.title,
            submitted_at=data.submitted_at, submitted_on=_local_date(data.submitted_at), stage=data.stage,
            stage_since=at if data.changed_at else data.submitted_at, handler_user_id=data.handler_user_id,
            handler_name=data.handler_name, status=data.status, source=source, created_at=now, updated_at=now,
        )
        _complete(item, data, cal)
        session.add(item)
        await session.flush()
        session.add(ApprovalEvent(item_id=item.id, at=data.submitted_at, kind="提交", stage=data.stage,  # type: ignore[arg-type]
                                  status=data.status, handler_name=data.handler_name, source=source))
        return Change(item, created=True, changed=True)
    change = Change(item, old_stage=item.stage, old_status=item.status)
    if item.stage != data.stage:
        item.stage, item.stage_since = data.stage, at
        session.add(ApprovalEvent(item_id=item.id, at=at, kind="环节", stage=data.stage,  # type: ignore[arg-type]
                                  handler_name=data.handler_name, source=source))
        change.changed = True
    if item.status != data.status:
        item.status = data.status
        session.add(ApprovalEvent(item_id=item.id, at=at, kind="状态", stage=data.stage,  # type: ignore[arg-type]
                                  status=data.status, handler_name=data.handler_name, source=source))
        change.changed = True
    for field in ("unit_id", "type", "title", "handler_user_id", "handler_name"):
        if getattr(item, field) != getattr(data, field):
            setattr(item, field, getattr(data, field))
            change.changed = True
    before = (item.completed_at, item.working_days)
    _complete(item, data, cal)
    change.changed |= before != (item.completed_at, item.working_days)
    if change.changed:
        item.updated_at = now
        session.add(item)
    return change


def _complete(item: ApprovalItem, data: ItemData, cal: WorkCalendar) -> None:
    """Completion date and the working days it took (start day not counted: same day = 0). An item
    submitted on a rest day counts from the next working day: submitted Saturday, finished Monday = 0."""
    if data.status == DONE:
        done = data.completed_at or item.completed_at or data.changed_at or data.submitted_at
        item.completed_at, item.completed_on = done, _local_date(done)
        item.working_days = max(0, cal.workdays_between(cal.next_workday(item.submitted_on), item.completed_on))
    else:
        item.completed_at, item.completed_on, item.working_days = None, None, None
