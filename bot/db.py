"""Async database access: one engine, read sessions and write transactions.

SQLite (the embedded default) runs in WAL mode with synchronous=FULL and a busy timeout, and a
write transaction starts with `BEGIN IMMEDIATE`: a deferred transaction that reads and then
writes can fail with "database is locked" without waiting (docs/delivery.md).
PostgreSQL (asyncpg) uses the same code; there both kinds of session are ordinary transactions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

BUSY_TIMEOUT_MS = 30_000


def _sqlite_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """The one engine of a process, with `read()` and `write()` sessions."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            _ensure_sqlite_dir(url)
            self.engine = create_async_engine(url, echo=echo, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
            _sqlite_hooks(self.engine)
            self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
            # One writer at a time in this process: SQLite resolves lock contention by sleeping in its
            # busy handler (1, 2, 5 … 100 ms), which made 50 concurrent writers wait seconds.
            self._write_lock: asyncio.Lock | None = asyncio.Lock()
        else:
            self.engine = create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True)
            self._write_engine = self.engine
            self._write_lock = None
        self._writer: asyncio.Task[object] | None = None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for queries; it never takes SQLite's write lock."""
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits on success and rolls back on error."""
        if self._write_lock is None:
            async with AsyncSession(self._write_engine, expire_on_commit=False) as session, session.begin():
                yield session
            return
        if self._writer is not None and self._writer is asyncio.current_task():
            raise RuntimeError("nested write transaction on SQLite (it would wait for itself)")
        async with self._write_lock:
            self._writer = asyncio.current_task()
            try:
                async with AsyncSession(self._write_engine, expire_on_commit=False) as session, session.begin():
                    yield session
            finally:
                self._writer = None

    async def now(self, session: AsyncSession) -> datetime:
        """The database's clock, for leases and fences shared between instances (PostgreSQL's
        clock_timestamp(), in UTC). SQLite serves one host, so there it is this process's wall clock.
        Business time (send windows, quiet hours) stays on the app clock (Services.clock)."""
        if self.is_sqlite:
            return datetime.now(UTC)
        result = await session.exec(text("SELECT clock_timestamp()"))  # type: ignore[call-overload]
        return result.scalar_one().astimezone(UTC)

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
