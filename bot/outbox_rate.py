"""The DingTalk call budget shared by every instance on one PostgreSQL database.

DingTalk's quota is per app, so two instances that each pace themselves at `rate` together send
twice the allowed rate, and a 429 seen by one must pause the other. They draw call slots from one
row (`outboxrate`, name "dingtalk") with the generic cell rate algorithm: `tat` is the theoretical
arrival time; a call takes the slot `max(tat, now, paused_until) + 1/rate` in one UPDATE and
starts `burst/rate` before it (never before `paused_until`), sleeping until then without holding
any lock or transaction. A 429's Retry-After moves `paused_until` (and `tat`) for everyone. All
times are the database's clock. Chosen over advisory locks by bench/outbox.py --rate-backends:
one short statement per call, no connection held while waiting, and the pause is shared state.
SQLite (one instance) keeps the in-process TokenBucket below.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from sqlalchemy import text

from bot.db import Database

NAME = "dingtalk"
_TAKE = text(
    "UPDATE outboxrate SET tat = GREATEST(tat, paused_until, clock_timestamp()) + make_interval(secs => :step) "
    "WHERE name = :name "
    "RETURNING GREATEST(tat - make_interval(secs => :early), paused_until), paused_until, clock_timestamp()"
)
_PAUSE = text(
    "UPDATE outboxrate SET paused_until = GREATEST(paused_until, clock_timestamp() + make_interval(secs => :s)) "
    "WHERE name = :name RETURNING paused_until, clock_timestamp()"
)
_PAUSED = text("SELECT paused_until, clock_timestamp() FROM outboxrate WHERE name = :name")
_CREATE = text(
    "INSERT INTO outboxrate (name, tat, paused_until) VALUES (:name, clock_timestamp(), clock_timestamp()) "
    "ON CONFLICT (name) DO NOTHING"
)


class SharedBucket:
    """`acquire()` before each DingTalk send call; `pause(seconds)` after a 429 (for every instance)."""

    def __init__(self, db: Database, rate: float, burst: float = 2.0, name: str = NAME) -> None:
        self.db, self.name = db, name
        self.step = 1.0 / rate
        self.early = burst / rate
        self._ready = False
        self._paused_until = 0.0  # monotonic: the last pause this process saw (for releasing rows)

    async def _ensure_row(self) -> None:
        if not self._ready:
            async with self.db.engine.begin() as conn:
                await conn.execute(_CREATE, {"name": self.name})
            self._ready = True

    def _saw_pause(self, until: datetime, now: datetime) -> float:
        left = (until - now).total_seconds()
        if left > 0:
            self._paused_until = max(self._paused_until, time.monotonic() + left)
        return left

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - time.monotonic())

    async def acquire(self) -> None:
        await self._ensure_row()
        while True:
            async with self.db.engine.begin() as conn:
                start, until, now = (await conn.execute(
                    _TAKE, {"name": self.name, "step": self.step, "early": self.early})).one()
            self._saw_pause(until, now)
            wait = (start - now).total_seconds()
            if wait <= 0:
                return
            await asyncio.sleep(wait)
            # a pause another instance set while we slept cancels our slot: take a new one after it
            async with self.db.engine.connect() as conn:
                until, now = (await conn.execute(_PAUSED, {"name": self.name})).one()
            if self._saw_pause(until, now) <= 0:
                return

    async def pause(self, seconds: float) -> None:
        """No instance starts a call before `seconds` from now (a 429's Retry-After)."""
        await self._ensure_row()
        async with self.db.engine.begin() as conn:
            until, now = (await conn.execute(_PAUSE, {"name": self.name, "s": seconds})).one()
        self._saw_pause(until, now)


class TokenBucket:
    """Paces calls to `rate` per second with bursts of up to `burst`; `pause()` honours Retry-After."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self._tokens = self.capacity
        self._last = time.monotonic()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        """No call before `seconds` from now; then one call at once and the usual pace."""
        until = time.monotonic() + seconds
        if until > self._paused_until:
            self._paused_until = until
            self._tokens, self._last = min(1.0, self.capacity), until

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - time.monotonic())

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                self._tokens = min(self.capacity, self._tokens + max(0.0, now - self._last) * self.rate)
                self._last = max(self._last, now)
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)
