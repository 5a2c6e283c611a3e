"""Accounts map a DingTalk userId to a person, roles and unit; binding requests let strangers in."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import utcnow


class Account(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(unique=True, max_length=64)  # DingTalk enterprise userId (senderStaffId)
    name: str = Field(max_length=50)
    roles: str = Field(default="", max_length=200)  # comma-separated role codes, see models/accounts/roles.py
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    mobile: str = Field(default="", max_length=20)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def role_codes(self) -> list[str]:
        return [r for r in self.roles.split(",") if r]


class BindingRequest(SQLModel, table=True):
    """申请绑定: an unknown DingTalk user asks to be given an account for a unit."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(index=True, max_length=64)
    nick: str = Field(default="", max_length=50)
    unit_id: int = Field(foreign_key="unit.id")
    status: str = Field(default="pending", max_length=10)  # pending / approved / refused
    reason: str = Field(default="", max_length=200)
    decided_by: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None


async def account_by_user(session: AsyncSession, user_id: str) -> Account | None:
    result = await session.exec(select(Account).where(Account.user_id == user_id, Account.active == True))  # noqa: E712
    return result.first()


async def accounts_with_role(session: AsyncSession, role: str) -> list[Account]:
    """Active accounts holding `role` (a role code)."""
    result = await session.exec(select(Account).where(Account.active == True))  # noqa: E712
    return [a for a in result.all() if role in a.role_codes]


async def unit_accounts(session: AsyncSession, unit_id: int, role: str) -> list[Account]:
    """Active accounts of one unit holding `role` (its contacts, or its leaders)."""
    result = await session.exec(select(Account).where(Account.unit_id == unit_id, Account.active == True))  # noqa: E712
    return [a for a in result.all() if role in a.role_codes]


async def people_by_unit(session: AsyncSession) -> dict[str, dict[int, list[str]]]:
    """One query for bulk jobs: {role code: {unit id: [userId…]}}; key 0 holds every holder of the role."""
    out: dict[str, dict[int, list[str]]] = {}
    for account in (await session.exec(select(Account).where(Account.active == True))).all():  # noqa: E712
        for role in account.role_codes:
            by_unit = out.setdefault(role, {})
            by_unit.setdefault(0, []).append(account.user_id)
            if account.unit_id:
                by_unit.setdefault(account.unit_id, []).append(account.user_id)
    return out
