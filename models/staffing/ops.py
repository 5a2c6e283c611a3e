"""Upkeep of the 实名制 snapshot after an import (the import itself writes through
models.staffing.snapshot.SnapshotWriter)."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession


async def refresh_statistics(session: AsyncSession) -> None:
    """After a large import on PostgreSQL: fresh planner statistics for the incremental 预警 scan that
    follows (autovacuum would come later)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await (await session.connection()).execute(text("ANALYZE person"))
