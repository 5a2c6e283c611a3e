"""Reads of accounts and binding requests: each takes the caller's session (its transaction)."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts.tables import Account, BindingRequest
from models.staffing.units import Unit

PENDING = "pending"


async def pending_request_of(session: AsyncSession, *, user_id: str) -> BindingRequest | None:
    """The sender's binding request still waiting for an administrator."""
    return (await session.exec(select(BindingRequest).where(
        BindingRequest.user_id == user_id, BindingRequest.status == PENDING))).first()


async def binding_request(session: AsyncSession, *, request_id: int) -> BindingRequest | None:
    return await session.get(BindingRequest, request_id)


async def pending_requests(session: AsyncSession) -> list[tuple[BindingRequest, Unit]]:
    """绑定申请: the requests waiting, oldest first, with their units."""
    return list((await session.exec(
        select(BindingRequest, Unit).join(Unit).where(BindingRequest.status == PENDING)
        .order_by(col(BindingRequest.id)))).all())


async def all_accounts(session: AsyncSession) -> list[Account]:
    """Every account, active or not (the accounts import matches them by userId)."""
    return list((await session.exec(select(Account))).all())
