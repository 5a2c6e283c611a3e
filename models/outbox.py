"""The persistent outbox: every proactive push is a row, written in the transaction that caused it.

See docs/delivery.md. A row is one message to one recipient; `dedup_key` makes a
second enqueue of the same notification a no-op. The dispatcher (bot/outbox.py) claims rows with
a lease and a fence and records the outcome.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import table_of, utcnow

PENDING, SENDING, SENT, UNKNOWN = "pending", "sending", "sent", "unknown"
FAILED, DEAD, CANCELLED, EXPIRED = "failed", "dead", "cancelled", "expired"


class OutboxMessage(SQLModel, table=True):
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(unique=True, max_length=255)
    kind: str = Field(max_length=40)
    recipient: str = Field(max_length=140)  # "user:<userId>" or "group:<openConversationId>"
    msg_key: str = Field(max_length=40)  # DingTalk msgKey: sampleText, sampleMarkdown, sampleActionCard…
    payload: str  # msgParam as a JSON string, byte-identical on every retry
    mergeable: bool = False  # reminders due for one person at once may go out as one message
    status: str = Field(default=PENDING, max_length=10)
    attempts: int = 0
    due_at: datetime = Field(default_factory=utcnow)
    next_attempt_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    lease_owner: str = Field(default="", max_length=64)
    lease_until: datetime | None = None
    fence: int = 0
    provider_ref: str = Field(default="", max_length=128)
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


def user_recipient(user_id: str) -> str:
    return f"user:{user_id}"


def group_recipient(conversation_id: str) -> str:
    return f"group:{conversation_id}"


def outbox_values(
    *, dedup_key: str, kind: str, recipient: str, msg_key: str, param: dict[str, Any],
    due_at: datetime | None = None, expires_at: datetime | None = None, mergeable: bool = False,
) -> dict[str, Any]:
    """The column values of one new outbox row."""
    now = utcnow()
    due = due_at or now
    return dict(
        dedup_key=dedup_key[:255], kind=kind, recipient=recipient, msg_key=msg_key,
        payload=json.dumps(param, ensure_ascii=False, sort_keys=True), mergeable=mergeable, status=PENDING, attempts=0,
        due_at=due, next_attempt_at=due, expires_at=expires_at, lease_owner="", fence=0,
        provider_ref="", last_error="", created_at=now,
    )


def _insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table_of(OutboxMessage)).on_conflict_do_nothing(index_elements=["dedup_key"])


# How many rows this task queued: the dispatcher wakes the outbox after a message only when a
# handler queued something (a contextvar, so concurrent messages never see each other's count).
QUEUED: ContextVar[int] = ContextVar("outbox_queued", default=0)


async def enqueue(session: AsyncSession, **values: Any) -> bool:
    """Insert one notification unless its dedup_key exists; True when a row was added.

    Keywords as `outbox_values`: dedup_key, kind, recipient, msg_key, param, due_at, expires_at, mergeable.
    """
    result = await session.exec(_insert(session).values(**outbox_values(**values)))
    QUEUED.set(QUEUED.get() + 1)
    return bool(result.rowcount)


async def enqueue_many(session: AsyncSession, rows: list[dict[str, Any]], chunk: int = 500) -> None:
    """Insert many rows built by `outbox_values` (executemany; existing keys are skipped)."""
    for i in range(0, len(rows), chunk):
        await session.exec(_insert(session), params=rows[i:i + chunk])
    QUEUED.set(QUEUED.get() + len(rows))


async def existing_keys(session: AsyncSession, keys: list[str], chunk: int = 500) -> set[str]:
    """Which of `keys` are already in the outbox (lets a scan skip rendering them again)."""
    found: set[str] = set()
    column = table_of(OutboxMessage).c.dedup_key
    for i in range(0, len(keys), chunk):
        result = await session.exec(select(column).where(column.in_(keys[i:i + chunk])))
        found.update(result.all())
    return found


class OutboxRate(SQLModel, table=True):
    """The DingTalk call budget that instances sharing PostgreSQL draw from (bot/outbox_rate.py).

    `tat` is the theoretical arrival time of the generic cell rate algorithm: the next free call slot
    is `tat`, less the burst. `paused_until` ends a 429's Retry-After for every instance. Both are
    the database's clock.
    """

    name: str = Field(primary_key=True, max_length=40)
    tat: datetime = Field(default_factory=utcnow)
    paused_until: datetime = Field(default_factory=utcnow)
