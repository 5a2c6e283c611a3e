"""The outbox dispatcher: claims due rows with a lease and a fence, sends them, records the outcome.

Design: shared/docs/reliability.md §8. Every instance runs one dispatcher. A claim commits
before any HTTP call; a completion only counts if the row still carries our fence, so a
dispatcher whose lease expired cannot overwrite the row's newer state. Identical 1:1 messages
go out as one batchSend of up to 20 users; calls are paced by a token bucket.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from bot.config import OutboxConfig
from bot.db import Database
from bot.dingtalk_api import BATCH_LIMIT, DingTalkAPI, DingTalkError, SendResult
from models.base import utcnow
from models.outbox import DEAD, EXPIRED, FAILED, PENDING, SENDING, SENT, OutboxMessage

log = logging.getLogger(__name__)
T = OutboxMessage.__table__.c  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Claimed:
    id: int
    fence: int
    attempts: int
    kind: str
    recipient: str
    msg_key: str
    payload: str
    expires_at: datetime | None


class TokenBucket:
    """Paces calls to `rate` per second with bursts of up to `burst`."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self._tokens = self.capacity
        self._last = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


def retry_delay(attempts: int, retry_after: float | None, base: float = 2.0, cap: float = 600.0) -> float:
    """Full-jitter backoff, never sooner than the server's Retry-After."""
    jitter = random.uniform(0, min(cap, base * 2 ** min(attempts, 12)))
    return max(retry_after or 0.0, jitter)


class OutboxWorker:
    def __init__(self, db: Database, api: DingTalkAPI, cfg: OutboxConfig, owner: str) -> None:
        self.db, self.api, self.cfg, self.owner = db, api, cfg, owner
        self.bucket = TokenBucket(cfg.rate_per_second)
        self.lost_leases = 0  # completions rejected by the fence
        self._wake = asyncio.Event()
        self._stopping = False
        self.on_dead: Any = None  # async callable(row) set by the app: alert administrators

    def nudge(self) -> None:
        """Something was enqueued: dispatch now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                sent = await self.dispatch_once()
            except Exception:
                log.exception("outbox dispatch failed")
                sent = 0
            if sent == 0 and not self._stopping:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.cfg.poll_seconds)
                except TimeoutError:
                    pass
                self._wake.clear()

    async def dispatch_once(self) -> int:
        """Claim and send one batch of due rows; returns how many rows were handled."""
        rows = await self.claim()
        now = utcnow()
        live = []
        for row in rows:
            if row.expires_at is not None and row.expires_at < now:
                await self.complete(row, EXPIRED, error="too late to matter")
            else:
                live.append(row)
        for group in _batches(live):
            await self.bucket.acquire()
            await self._send(group)
        return len(rows)

    async def claim(self) -> list[Claimed]:
        now = utcnow()
        due = or_(
            and_(T.status == PENDING, T.next_attempt_at <= now),
            and_(T.status == SENDING, T.lease_until < now),
        )
        pick = select(T.id).where(due).order_by(T.next_attempt_at).limit(self.cfg.batch_size)
        if not self.db.is_sqlite:
            pick = pick.with_for_update(skip_locked=True)
        stmt = (
            update(OutboxMessage)
            .where(T.id.in_(pick.scalar_subquery()))
            .values(status=SENDING, lease_owner=self.owner, fence=T.fence + 1, attempts=T.attempts + 1,
                    lease_until=now + timedelta(seconds=self.cfg.lease_seconds))
            .returning(T.id, T.fence, T.attempts, T.kind, T.recipient, T.msg_key, T.payload, T.expires_at)
        )
        async with self.db.write() as session:
            result = await session.exec(stmt)  # type: ignore[call-overload]
            return [Claimed(*r) for r in result.all()]

    async def complete(self, row: Claimed, status: str, *, ref: str = "", error: str = "",
                       retry_in: float | None = None) -> bool:
        """Record the outcome if we still hold the row's lease; False means the lease was lost."""
        now = utcnow()
        values: dict[str, Any] = {"status": status, "lease_until": None, "last_error": error[:500]}
        if status == SENT:
            values.update(provider_ref=ref[:128], sent_at=now)
        if retry_in is not None:
            values["next_attempt_at"] = now + timedelta(seconds=retry_in)
        stmt = (update(OutboxMessage)
                .where(T.id == row.id, T.fence == row.fence, T.status == SENDING).values(**values))
        async with self.db.write() as session:
            result = await session.exec(stmt)  # type: ignore[call-overload]
        if result.rowcount == 0:
            self.lost_leases += 1
            log.warning("outbox row %s: lease lost, completion %s ignored", row.id, status)
            return False
        return True

    async def _send(self, group: list[Claimed]) -> None:
        head = group[0]
        try:
            if head.recipient.startswith("group:"):
                result = await self.api.group_send(head.recipient[6:], head.msg_key, head.payload)
            else:
                users = [r.recipient[5:] for r in group]
                result = await self.api.batch_send(users, head.msg_key, head.payload)
        except DingTalkError as e:
            for row in group:
                await self._failed(row, e)
            return
        await self._sent(group, result)

    async def _sent(self, group: list[Claimed], result: SendResult) -> None:
        throttled, invalid = set(result.flow_controlled), set(result.invalid)
        for row in group:
            user = row.recipient[5:]
            if user in throttled:
                await self._retry(row, "flow controlled", None)
            elif user in invalid:
                await self.complete(row, FAILED, error="invalid userId")
            else:
                await self.complete(row, SENT, ref=result.process_query_key)

    async def _failed(self, row: Claimed, e: DingTalkError) -> None:
        if not e.retryable:
            await self.complete(row, FAILED, error=str(e))
            await self._alert(row, str(e))
        else:
            await self._retry(row, ("ambiguous: " if e.ambiguous else "") + str(e), e.retry_after)

    async def _retry(self, row: Claimed, error: str, retry_after: float | None) -> None:
        if row.attempts >= self.cfg.max_attempts:
            if await self.complete(row, DEAD, error=error):
                await self._alert(row, error)
            return
        delay = retry_delay(row.attempts, retry_after, self.cfg.retry_base_seconds)
        await self.complete(row, PENDING, error=error, retry_in=delay)

    async def _alert(self, row: Claimed, error: str) -> None:
        log.error("outbox row %s (%s) not delivered: %s", row.id, row.kind, error)
        if self.on_dead is not None and not row.kind.startswith("alert."):
            await self.on_dead(row, error)


def _batches(rows: list[Claimed]) -> list[list[Claimed]]:
    """Group identical 1:1 messages into batchSend calls of ≤ 20 users; group messages go alone."""
    groups: dict[tuple[str, str], list[Claimed]] = {}
    out: list[list[Claimed]] = []
    for row in rows:
        if row.recipient.startswith("group:"):
            out.append([row])
            continue
        bucket = groups.setdefault((row.msg_key, row.payload), [])
        if len(bucket) == BATCH_LIMIT or any(r.recipient == row.recipient for r in bucket):
            out.append(bucket[:])
            bucket.clear()
        bucket.append(row)
    out.extend(b for b in groups.values() if b)
    return out


def payload_text(payload: str) -> str:
    data = json.loads(payload)
    return str(data.get("text") or data.get("content") or "")
