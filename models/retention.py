"""Data retention of the inbound audit: after `[retention] message_text_days` the text of a
received message is blanked; the row (who, when, which command, outcome) stays, and the purge
itself is audited."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import InboundMessage, audit


async def purge_message_texts(session: AsyncSession, before: datetime) -> int:
    """Blank the text of inbound messages received before `before`; returns how many rows changed."""
    stmt = (update(InboundMessage)
            .where(col(InboundMessage.received_at) < before, col(InboundMessage.text) != "")
            .values(text=""))
    count = (await session.exec(stmt)).rowcount or 0
    if count:
        audit(session, "retention.purge", "inbound_message", "",
              json.dumps({"清除消息原文": count, "早于": before.isoformat()}, ensure_ascii=False))
    return count
