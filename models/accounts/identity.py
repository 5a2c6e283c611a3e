"""Who sent a message: the one query the dispatcher runs before routing it."""

from __future__ import annotations

from sqlalchemy import and_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts.tables import Account
from models.dialogue import Dialogue
from models.staffing.units import Unit


async def identify(session: AsyncSession, user_id: str, conversation_id: str
                   ) -> tuple[Account | None, Unit | None, bool]:
    """The sender's active account, its unit, and whether a guided dialogue is open in this
    conversation, in one statement (the hot path of every message)."""
    stmt = (select(Account, Unit, Dialogue.id)
            .outerjoin(Unit, col(Unit.id) == Account.unit_id)
            .outerjoin(Dialogue, and_(col(Dialogue.user_id) == Account.user_id,
                                      col(Dialogue.conversation_id) == conversation_id))
            .where(Account.user_id == user_id, col(Account.active).is_(True)))
    row = (await session.exec(stmt)).first()
    if row is None:
        return None, None, False
    account, unit, dialogue_id = row
    return account, unit, dialogue_id is not None
