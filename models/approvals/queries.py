"""Reads of 审批 for handlers and jobs: Core selects of the columns an answer needs, not ORM entities.

`进度 <编号>` is one joined statement (item + unit + handler account) plus the events; the lists of
我的审批 / 审批 are one joined statement each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, or_
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts.roles import Role
from models.accounts.tables import Account, unit_accounts
from models.approvals.tables import IN_PROGRESS, ApprovalEvent, ApprovalItem, ApprovalOptOut, ProcessedEvent
from models.staffing.units import Unit


@dataclass(frozen=True, slots=True)
class ItemRow:
    """An item with what its answer shows of its unit and handler."""

    id: int
    number: str
    type: str
    title: str
    unit_id: int
    submitted_at: datetime
    submitted_on: date
    stage: str
    stage_since: datetime
    status: str
    handler_user_id: str
    handler_name: str
    completed_on: date | None
    unit_label: str
    unit_frozen: bool
    handler_mobile: str = ""


@dataclass(frozen=True, slots=True)
class EventRow:
    at: datetime
    kind: str
    stage: str
    status: str
    handler_name: str
    detail: str


_ITEM = (col(ApprovalItem.id), col(ApprovalItem.number), col(ApprovalItem.type), col(ApprovalItem.title),
         col(ApprovalItem.unit_id), col(ApprovalItem.submitted_at), col(ApprovalItem.submitted_on),
         col(ApprovalItem.stage), col(ApprovalItem.stage_since), col(ApprovalItem.status),
         col(ApprovalItem.handler_user_id), col(ApprovalItem.handler_name), col(ApprovalItem.completed_on),
         col(Unit.name), col(Unit.short_name), col(Unit.frozen_since))


def _row(r: Any, mobile: str | None = None) -> ItemRow:
    return ItemRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
                   unit_label=r[14] or r[13], unit_frozen=r[15] is not None, handler_mobile=mobile or "")


def _scoped(query: Any, unit_id: int | None) -> Any:
    return query if unit_id is None else query.where(col(ApprovalItem.unit_id) == unit_id)


def _items() -> Any:
    return core_select(*_ITEM).join(Unit, col(Unit.id) == col(ApprovalItem.unit_id))


async def item_by_number(session: AsyncSession, *, text: str, unit_id: int | None = None) -> ItemRow | None:
    """The item numbered `text` (its upper-case form first), with its unit and its handler's mobile,
    in one statement. `unit_id`: only that unit's items (None: every unit)."""
    upper = text.upper()
    query = _items().add_columns(col(Account.mobile)).outerjoin(
        Account, col(Account.user_id) == col(ApprovalItem.handler_user_id)).where(
        col(ApprovalItem.number).in_((upper, text)))
    query = _scoped(query, unit_id).order_by(case((col(ApprovalItem.number) == upper, 0), else_=1)).limit(1)
    row = (await session.exec(query)).first()
    return _row(row, row[16]) if row else None


async def items_titled(session: AsyncSession, *, text: str, unit_id: int | None = None,
                       limit: int = 6) -> list[ItemRow]:
    """Items whose name contains `text`, newest first."""
    query = _scoped(_items().where(col(ApprovalItem.title).contains(text)), unit_id)
    rows = (await session.exec(query.order_by(col(ApprovalItem.submitted_at).desc()).limit(limit))).all()
    return [_row(r) for r in rows]


async def item_events(session: AsyncSession, *, item_id: int) -> list[EventRow]:
    """The 全程纪实 of one item, oldest first."""
    query: Any = core_select(col(ApprovalEvent.at), col(ApprovalEvent.kind), col(ApprovalEvent.stage),
                   col(ApprovalEvent.status), col(ApprovalEvent.handler_name), col(ApprovalEvent.detail)
                   ).where(col(ApprovalEvent.item_id) == item_id).order_by(col(ApprovalEvent.at), col(ApprovalEvent.id))
    return [EventRow(*r) for r in (await session.exec(query)).all()]


async def listed_items(session: AsyncSession, *, unit_ids: list[int] | None, day: date, today_only: bool,
                       since: date, limit: int = 500) -> list[ItemRow]:
    """Items of `unit_ids` (None: all units), newest first: submitted or completed on `day` when
    `today_only`, else the open ones and those completed since `since`."""
    query = _items()
    if unit_ids is not None:
        query = query.where(col(ApprovalItem.unit_id).in_(unit_ids))
    if today_only:
        query = query.where(or_(col(ApprovalItem.submitted_on) == day, col(ApprovalItem.completed_on) == day))
    else:
        query = query.where(or_(col(ApprovalItem.status) == IN_PROGRESS, col(ApprovalItem.completed_on) >= since))
    rows = (await session.exec(query.order_by(col(ApprovalItem.submitted_at).desc()).limit(limit))).all()
    return [_row(r) for r in rows]


async def item_entity(session: AsyncSession, *, number: str, unit_id: int | None = None) -> ApprovalItem | None:
    """The item (for a change) numbered `number`, its upper-case form first."""
    upper = number.upper()
    query = select(ApprovalItem).where(col(ApprovalItem.number).in_((upper, number)))
    query = _scoped(query, unit_id).order_by(case((col(ApprovalItem.number) == upper, 0), else_=1)).limit(1)
    return (await session.exec(query)).first()


async def opted_out(session: AsyncSession) -> set[int]:
    """Accounts that sent 退订审批通知."""
    return set((await session.exec(select(ApprovalOptOut.account_id))).all())


async def subscribers(session: AsyncSession, *, unit_id: int, opted: set[int] | None = None) -> list[str]:
    """The unit's contacts and leaders, minus those who sent 退订审批通知."""
    people = [*await unit_accounts(session, unit_id, Role.UNIT_CONTACT),
              *await unit_accounts(session, unit_id, Role.UNIT_LEADER)]
    out = await opted_out(session) if opted is None else opted
    return list(dict.fromkeys(a.user_id for a in people if a.id not in out))


async def subscribers_by_unit(session: AsyncSession, *, unit_ids: set[int]) -> dict[int, list[str]]:
    """`subscribers` for many units in two statements (a batch import)."""
    out = await opted_out(session)
    found: dict[int, list[str]] = {}
    if not unit_ids:
        return found
    query = select(Account).where(col(Account.active) == True, col(Account.unit_id).in_(unit_ids))  # noqa: E712
    accounts = list((await session.exec(query)).all())
    for role in (Role.UNIT_CONTACT, Role.UNIT_LEADER):  # contacts first, as `subscribers` lists them
        for account in accounts:
            if role in account.role_codes and account.id not in out and account.unit_id is not None:
                users = found.setdefault(account.unit_id, [])
                if account.user_id not in users:
                    users.append(account.user_id)
    return found


async def event_seen(session: AsyncSession, *, event_id: str) -> bool:
    """Whether this DingTalk OA eventId was already processed."""
    return await session.get(ProcessedEvent, event_id) is not None


async def active_account(session: AsyncSession, *, user_id: str) -> Account | None:
    if not user_id:
        return None
    query = select(Account).where(col(Account.user_id) == user_id, col(Account.active) == True)  # noqa: E712
    return (await session.exec(query)).first()


async def active_accounts(session: AsyncSession) -> list[Account]:
    return list((await session.exec(select(Account).where(col(Account.active) == True))).all())  # noqa: E712


async def open_items(session: AsyncSession) -> list[ApprovalItem]:
    """Items still 办理中 (催办 looks at how long each has been in its stage)."""
    return list((await session.exec(select(ApprovalItem).where(col(ApprovalItem.status) == IN_PROGRESS))).all())


async def urged_in_stage(session: AsyncSession) -> set[tuple[int, str]]:
    """(item id, audience) of the 催办 already sent for open items' current stages."""
    query = select(ApprovalEvent.item_id, ApprovalEvent.detail).join(ApprovalItem, and_(
        col(ApprovalItem.id) == col(ApprovalEvent.item_id), col(ApprovalEvent.at) >= col(ApprovalItem.stage_since),
    )).where(col(ApprovalEvent.kind) == "催办", col(ApprovalItem.status) == IN_PROGRESS)
    return set((await session.exec(query)).all())
