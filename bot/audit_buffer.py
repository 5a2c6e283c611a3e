"""The second half of the inbound audit, written off the reply path.

Every message's row is inserted before it is handled (the msgId is the dedup key, so a redelivery
after a crash is still recognised). What the bot made of it (command, outcome, account) is known
only afterwards: those completions are queued here and written by one background task, as one
executemany UPDATE per batch, so a busy minute costs one write transaction per batch instead of
one per message. `flush()` writes everything queued so far (the app calls it on stop).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import bindparam, update
from sqlmodel import SQLModel

from bot.db import Database
from models.audit import InboundMessage

log = logging.getLogger(__name__)
_T = SQLModel.metadata.tables[str(InboundMessage.__tablename__)]
_COMPLETE = (update(_T).where(_T.c.msg_id == bindparam("m"))
             .values(command=bindparam("c"), outcome=bindparam("o"), account_id=bindparam("a")))


class AuditBuffer:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # write transactions spent on completions (bench/progress.py reports it)

    def complete(self, msg_id: str, command: str, outcome: str, account_id: int | None) -> None:
        self._pending.append({"m": msg_id[:128], "c": command[:40], "o": outcome[:40], "a": account_id})
        self._idle.clear()
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="audit-buffer")

    async def _run(self) -> None:
        while self._pending:
            await self._write()
            if not self._pending:
                self._wake.clear()
                self._idle.set()
                await self._wake.wait()

    async def _write(self) -> None:
        batch, self._pending = self._pending, []
        try:
            async with self.db.write() as session:
                await session.exec(_COMPLETE, params=batch)
            self.batches += 1
        except Exception:  # the inbound rows exist; only what the bot made of them is missing
            log.exception("could not record the outcome of %d messages", len(batch))

    async def flush(self) -> None:
        """Wait until everything queued so far is written."""
        if self._pending and (self._task is None or self._task.done()):
            await self._write()
        if self._task is not None and not self._task.done():
            await self._idle.wait()

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
