"""Shared time helpers: timestamps are timezone-aware UTC (SQLModel's UTCDateTime columns)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Table
from sqlmodel import SQLModel

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a SQLModel class (typed, unlike `Model.__table__`), for set-based statements."""
    return SQLModel.metadata.tables[str(model.__tablename__)]


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_local(dt: datetime) -> datetime:
    """A stored timestamp as Beijing time, for display."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(LOCAL_TZ)
