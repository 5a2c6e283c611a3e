"""The audit trail (全程留痕): every inbound message, and every state change."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import utcnow


class InboundMessage(SQLModel, table=True):
    """One row per DingTalk message; the unique msg_id makes a redelivery a no-op."""

    id: int | None = Field(default=None, primary_key=True)
    msg_id: str = Field(unique=True, max_length=128)
    received_at: datetime = Field(default_factory=utcnow, index=True)
    sender_user_id: str = Field(default="", max_length=64, index=True)
    account_id: int | None = Field(default=None, index=True)
    conversation_type: str = Field(default="1", max_length=2)  # "1" single chat, "2" group
    conversation_id: str = Field(default="", max_length=128)
    text: str = Field(default="", max_length=4000)
    command: str = Field(default="", max_length=40)
    outcome: str = Field(default="", max_length=40)  # ok / denied / unknown / rate_limited / error


class AuditEvent(SQLModel, table=True):
    """A state change: who did what to which entity, and the details."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_account_id: int | None = Field(default=None)
    actor_user_id: str = Field(default="", max_length=64)
    action: str = Field(max_length=40)
    entity: str = Field(max_length=40)
    entity_id: str = Field(default="", max_length=64, index=True)
    detail: str = Field(default="", max_length=4000)


async def record_inbound(session, **values) -> bool:
    """Insert the inbound row; False when this msg_id was seen before (a redelivery)."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    values.setdefault("received_at", utcnow())
    for key in ("sender_user_id", "conversation_id", "text", "command", "outcome"):
        values.setdefault(key, "")
    stmt = insert(InboundMessage).values(**values).on_conflict_do_nothing(index_elements=["msg_id"])
    result = await session.exec(stmt)
    return bool(result.rowcount)


def audit(session, action: str, entity: str, entity_id: object, detail: str = "", *,
          actor_account_id: int | None = None, actor_user_id: str = "") -> AuditEvent:
    """Add one audit event to the session (it commits with the change it records)."""
    event = AuditEvent(action=action, entity=entity, entity_id=str(entity_id), detail=detail[:4000],
                       actor_account_id=actor_account_id, actor_user_id=actor_user_id)
    session.add(event)
    return event
