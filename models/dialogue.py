"""Multi-turn conversations (guided dialogues), kept in a table so they survive restarts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import utcnow


class Dialogue(SQLModel, table=True):
    """One open dialogue per (user, conversation): a user's single chat and group chats never mix."""

    __table_args__ = (UniqueConstraint("user_id", "conversation_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=64)
    conversation_id: str = Field(max_length=128)
    flow: str = Field(max_length=40)  # the registered flow, e.g. "problem.register"
    state: str = Field(max_length=40)  # the current step
    data: str = Field(default="{}")  # JSON of the answers so far (and the step history for 上一步)
    session_webhook: str = Field(default="", max_length=500)
    updated_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
