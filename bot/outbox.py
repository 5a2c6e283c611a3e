"""The outbox dispatcher: claims due rows with a lease and a fence, sends them, records the outcome.

Design: docs/delivery.md. Every instance runs one dispatcher. A claim commits
before any HTTP call; a completion only counts if the row still carries our fence, so a
dispatcher whose lease expired cannot overwrite the row's newer state. A claimed batch becomes
calls (bot/outbox_batches.py): a person's mergeable reminders go out as one message, identical
1:1 messages as one batchSend of up to 20 users; calls are paced by a token bucket (on
PostgreSQL one bucket for every instance, bot/outbox_rate.py: DingTalk's quota is per app).

Two clocks: leases, fences and retry times use the database's clock (Database.now), which every
instance shares; business time (due times, expiry, sent_at) uses the app clock (Services.clock).

Two guards keep a slow or paused dispatcher from sending what another may already have reclaimed:
a call is only started while the batch's lease has at least one HTTP timeout left (otherwise the
rest of the batch is released), and throttling (a 429's Retry-After, else retry_base_seconds)
pauses every call (of every instance, on PostgreSQL).
A call without an answer after http_timeout leaves its rows `unknown` (§8.4, counted in COUNTERS):
the HTTP call goes on for up to unknown_seconds/2 more, and a late answer settles them (2xx → sent,
an error → retried). DingTalk's read-status API needs the processQueryKey only that answer carries,
so with no answer at all the rows are sent again once unknown_seconds have passed: the one window
no provider without an idempotency key can close (also: the process died, or was paused past its
lease, after DingTalk accepted a call and before `sent` was recorded).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, union_all, update
from sqlalchemy.exc import DBAPIError

from bot.config import OutboxConfig
from bot.db import Database
from bot.dingtalk_api import DingTalkAPI, DingTalkError, SendResult
from bot.outbox_batches import Claimed, Unit, payload_text, plan
from bot.outbox_rate import SharedBucket, TokenBucket
from models.base import table_of, utcnow
from models.outbox import DEAD, EXPIRED, FAILED, PENDING, SENDING, SENT, UNKNOWN, OutboxMessage

__all__ = ["Claimed", "OutboxWorker", "TokenBucket", "payload_text", "retry_delay"]

log = logging.getLogger(__name__)
T = table_of(OutboxMessage).c
LEASE_MARGIN = 1.0  # seconds kept free at the end of a lease for recording the outcome
UNKNOWN_MARK = "unknown: "  # last_error of a row whose send got no answer


@dataclass
class OutboxCounters:
    """Process-wide counters of ambiguous sends, for /metrics (read `bot.outbox.COUNTERS`)."""

    ambiguous_sends: int = 0  # rows in a call that got no answer (timeout, broken connection): `unknown`
    reconciled_delivered: int = 0  # unknown rows whose late answer showed DingTalk took them: sent, no resend
    reconciled_not_delivered: int = 0  # unknown rows whose late answer was an error: retried as usual
    unknown_resent: int = 0  # unknown rows that never got an answer and were sent again (may duplicate)


COUNTERS = OutboxCounters()


def retry_delay(attempts: int, retry_after: float | None, base: float = 2.0, cap: float = 600.0) -> float:
    """Full-jitter backoff, never sooner than the server's Retry-After."""
    jitter = random.uniform(0, min(cap, base * 2 ** min(attempts, 12)))
    return max(retry_after or 0.0, jitter)


@dataclass
class Outcome:
    """What one call did to one unit (all rows of a merged message share it)."""

    unit: Unit
    status: str
    error: str = ""
    ref: str = ""
    retry_in: float | None = None
    alert: bool = False


class OutboxWorker:
    def __init__(self, db: Database, api: DingTalkAPI, cfg: OutboxConfig, owner: str, *,
                 burst: float = 2.0, clock: Callable[[], datetime] = utcnow) -> None:
        self.db, self.api, self.cfg, self.owner = db, api, cfg, owner
        self.clock = clock  # the app's clock: tests stand the whole bot on a chosen date
        # Burst 2: at most rate+2 calls in any one-second window, close to what a provider's QPS
        # limit measures (a bucket of `rate` tokens would allow 2× rate across a second boundary).
        # Burst 1 would be stricter but loses every timer overshoot and every slow claim for good
        # (the bucket cannot keep the unused fraction): bench/outbox.py measured 17 % at 100/s.
        self.bucket = TokenBucket(cfg.rate_per_second, burst)
        # DingTalk's quota is per app: instances sharing PostgreSQL share one budget (bot/outbox_rate.py)
        self.shared = None if db.is_sqlite else SharedBucket(db, cfg.rate_per_second, burst)
        self._late: set[asyncio.Task[None]] = set()  # sends that timed out, still listening for an answer
        timeout = getattr(getattr(api, "_timeout", None), "total", None)
        self.call_timeout = float(timeout or 10.0)
        # counters (tests and bench)
        self.calls = 0  # send calls started (batchSend / groupMessages/send)
        self.messages = 0  # messages DingTalk accepted (a batchSend to n users counts n)
        self.sent_rows = 0  # rows recorded as sent
        self.merged_rows = 0  # of which went out inside a merged message
        self.retried_rows = 0
        self.failed_rows = 0
        self.dead_rows = 0
        self.expired_rows = 0
        self.released_rows = 0  # given back unsent because the lease ran short
        self.ambiguous_rows = 0  # in a call that may have been delivered although it failed (timeout)
        self.unknown_rows = 0  # recorded as unknown (see COUNTERS for the process-wide ambiguous counts)
        self.lost_leases = 0  # completions rejected by the fence
        self.failures_by_code: dict[str, int] = defaultdict(int)  # failed calls by DingTalk error code (/metrics)
        self._wake = asyncio.Event()
        self._stopping = False
        self._warned = False
        self.on_dead: Any = None  # async callable(row, error) set by the app: alert administrators

    def nudge(self) -> None:
        """Something was enqueued: dispatch now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for task in list(self._late):  # their rows stay unknown and are sent again after unknown_seconds
            task.cancel()

    async def run(self) -> None:
        while not self._stopping:
            try:
                handled = await self.dispatch_once()
            except Exception:
                log.exception("outbox dispatch failed")
                handled = 0
            if handled == 0 and not self._stopping:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.cfg.poll_seconds)
                except TimeoutError:
                    pass
                self._wake.clear()

    async def dispatch_once(self) -> int:
        """Claim and send one batch of due rows; returns how many rows were handled."""
        rows = await self.claim()
        if not rows:
            return 0
        deadline = time.monotonic() + self._send_window()
        now = self.clock()
        expired = [r for r in rows if r.expires_at is not None and r.expires_at < now]
        if expired:
            await self._record([Outcome(Unit((r,), r.msg_key, r.payload), EXPIRED, "too late to matter")
                                for r in expired])
        gone = {r.id for r in expired}
        calls = plan([r for r in rows if r.id not in gone])
        for i, call in enumerate(calls):
            await (self.shared or self.bucket).acquire()
            if not await self._send(call, deadline):
                await self.release([row for c in calls[i:] for unit in c for row in unit.rows])
                break
        return len(rows)

    def _send_window(self) -> float:
        """How long after a claim a call may still start: it must end (one HTTP timeout) and be
        recorded before the lease expires. A lease too short for that is a configuration error;
        then a quarter of the lease is used, so that the dispatcher still makes progress."""
        lease = float(self.cfg.lease_seconds)
        window = lease - self.call_timeout - LEASE_MARGIN
        if window < lease / 4:
            if not self._warned:
                log.warning("outbox lease_seconds=%s is too short for http_timeout=%s: a slow call may "
                            "outlive its lease and be sent twice", lease, self.call_timeout)
                self._warned = True
            window = lease / 4
        return window

    async def claim(self) -> list[Claimed]:
        """Lease up to batch_size due rows, oldest first, plus any whose lease expired (rare)."""
        async with self.db.write() as session:
            # Leases and retry times run on the database's clock, which every instance shares; a host
            # whose clock is a minute off then neither steals a live lease nor keeps an expired one.
            now = await self.db.now(session)
            # Rows enqueued for a business time are due by the app clock (tests move it), retries and
            # rows enqueued without a time by the database clock: whichever is later.
            due_by = max(now, self.clock())
            n = self.cfg.batch_size
            due = (select(T.id).where(T.status == PENDING, T.next_attempt_at <= due_by)  # ix_outbox_due, in order
                   .order_by(T.next_attempt_at, T.id).limit(n))
            # rows whose send got no answer, once the wait for a late answer is over: sent again
            unknown = (select(T.id).where(T.status == UNKNOWN, T.next_attempt_at <= now)
                       .order_by(T.next_attempt_at).limit(n))
            stale = select(T.id).where(T.status == SENDING, T.lease_until < now).order_by(T.lease_until).limit(n)
            if not self.db.is_sqlite:
                due, unknown, stale = (q.with_for_update(skip_locked=True) for q in (due, unknown, stale))
            # one IN over a UNION: an OR of INs makes PostgreSQL scan the whole (ever-growing) table
            pick = union_all(*(select(q.subquery().c.id) for q in (due, unknown, stale)))
            stmt = (
                update(OutboxMessage)
                .where(T.id.in_(pick))
                .values(status=SENDING, lease_owner=self.owner, fence=T.fence + 1, attempts=T.attempts + 1,
                        lease_until=now + timedelta(seconds=self.cfg.lease_seconds))
                .returning(T.id, T.fence, T.attempts, T.kind, T.recipient, T.msg_key, T.payload, T.expires_at,
                           T.mergeable, T.last_error.startswith(UNKNOWN_MARK))
                .execution_options(synchronize_session=False)
            )
            result = await session.exec(stmt)
            rows = sorted((Claimed(*r) for r in result.all()), key=lambda c: c.id)
        resent = sum(r.was_unknown for r in rows)
        if resent:
            COUNTERS.unknown_resent += resent
            log.warning("outbox: %d rows whose send got no answer are sent again", resent)
        return rows

    async def complete(self, row: Claimed, status: str, *, ref: str = "", error: str = "",
                       retry_in: float | None = None) -> bool:
        """Record the outcome if we still hold the row's lease; False means the lease was lost."""
        done = await self._record([Outcome(Unit((row,), row.msg_key, row.payload), status, error, ref, retry_in)])
        return row.id in done

    async def release(self, rows: list[Claimed]) -> None:
        """Give claimed rows back unsent (the attempt does not count), due when any pause ends."""
        if not rows:
            return
        values = {"status": PENDING, "lease_until": None, "attempts": T.attempts - 1}
        done = await self._update_many([(rows, values, self._paused_for())])
        self.released_rows += len(done)
        self.lost_leases += len(rows) - len(done)
        log.info("outbox: lease running short, %d rows released unsent", len(done))
        if len(done) < len(rows):
            log.warning("outbox rows %s: lease lost, release ignored", [r.id for r in rows if r.id not in done])

    # -- sending ------------------------------------------------------------------------------------
    async def _send(self, call: list[Unit], deadline: float) -> bool:
        """One DingTalk call and its recorded outcome; False (nothing sent) if the lease ran short."""
        try:
            await self.api.access_token()  # cached; fetched first so that the lease check is the last step
        except DingTalkError as e:  # nothing was sent, whatever the transport error says
            await self._record(self._retry(call, f"access token: {e}", e.retry_after))
            return True
        if time.monotonic() > deadline:
            return False
        self.calls += 1
        # The HTTP call may outlive http_timeout by unknown_seconds: after http_timeout the rows are
        # `unknown` and the dispatcher moves on, but a late answer still settles them (§8.4).
        task = asyncio.create_task(self._call(call))
        try:
            result = await asyncio.wait_for(asyncio.shield(task), self.call_timeout)
        except TimeoutError:
            await self._record(self._unknown(call, f"钉钉 {self.call_timeout:g} 秒未应答", self.cfg.unknown_seconds))
            late = asyncio.create_task(self._settle(call, task))
            self._late.add(late)
            late.add_done_callback(self._late.discard)
            return True
        except DingTalkError as e:
            await self._record(await self._failure(call, e))
            return True
        await self._record(self._success(call, result))
        return True

    async def _call(self, call: list[Unit]) -> SendResult:
        head = call[0]
        timeout = self.call_timeout + self.cfg.unknown_seconds / 2  # ends well before the row is reclaimed
        if head.recipient.startswith("group:"):
            return await self.api.group_send(head.recipient[6:], head.msg_key, head.payload, timeout=timeout)
        users = [u.recipient[5:] for u in call]
        return await self.api.batch_send(users, head.msg_key, head.payload, timeout=timeout)

    async def _settle(self, call: list[Unit], task: asyncio.Task[SendResult]) -> None:
        """Reconcile unknown rows with the late answer: delivered → sent (no resend); an error → the
        usual retry. No answer at all leaves them unknown: claim() sends them again later."""
        n = sum(len(u.rows) for u in call)
        try:
            result = await task
        except asyncio.CancelledError:  # stopping: the rows stay unknown and are sent again later
            task.cancel()
            raise
        except DingTalkError as e:
            if e.ambiguous:
                log.warning("outbox: no late answer either (%s); %d rows will be sent again", e, n)
                return
            outcomes = await self._failure(call, e)
            done = await self._record(outcomes, from_status=UNKNOWN)
            COUNTERS.reconciled_not_delivered += len(done)
            return
        except Exception:
            log.exception("outbox: waiting for a late answer failed")
            return
        done = await self._record(self._success(call, result), from_status=UNKNOWN)
        COUNTERS.reconciled_delivered += len(done)
        log.info("outbox: a late answer confirmed %d of %d unknown rows as delivered", len(done), n)

    async def _pause(self, seconds: float) -> None:
        self.bucket.pause(seconds)
        if self.shared is not None:
            await self.shared.pause(seconds)

    def _paused_for(self) -> float:
        return max(self.bucket.paused_for(), self.shared.paused_for() if self.shared else 0.0)

    def _success(self, call: list[Unit], result: SendResult) -> list[Outcome]:
        throttled, invalid = set(result.flow_controlled), set(result.invalid)
        out, again = [], []
        for unit in call:
            user = unit.recipient[5:] if unit.recipient.startswith("user:") else None
            if user in throttled:
                again.append(unit)
            elif user in invalid:
                out.append(Outcome(unit, FAILED, "invalid userId"))
            else:
                self.messages += 1
                out.append(Outcome(unit, SENT, ref=result.process_query_key))
        return out + self._retry(again, "flow controlled", None)

    async def _failure(self, call: list[Unit], e: DingTalkError) -> list[Outcome]:
        self.failures_by_code[e.code or (f"HTTP{e.status}" if e.status else "network")] += 1
        if e.retryable and 400 <= e.status < 500:  # throttled (429, QPS 403…): every call waits
            await self._pause(e.retry_after or self.cfg.retry_base_seconds)
        if not e.retryable:
            return [Outcome(unit, FAILED, str(e), alert=True) for unit in call]
        if e.ambiguous:  # the connection broke after sending: no answer will come
            delay = retry_delay(max(u.attempts for u in call), None, self.cfg.retry_base_seconds)
            return self._unknown(call, str(e), delay)
        return self._retry(call, str(e), e.retry_after)

    def _unknown(self, call: list[Unit], error: str, wait: float) -> list[Outcome]:
        """§8's window: DingTalk may have accepted the call. The rows become `unknown` and are
        counted; they are settled by a late answer or sent again `wait` seconds from now."""
        rows = [r.id for unit in call for r in unit.rows]
        self.ambiguous_rows += len(rows)
        COUNTERS.ambiguous_sends += len(rows)
        log.warning("outbox rows %s: DingTalk may have accepted the call (%s); unknown until an answer "
                    "or %gs", rows, error, wait)
        return [Outcome(u, DEAD, UNKNOWN_MARK + error, alert=True) if u.attempts >= self.cfg.max_attempts
                else Outcome(u, UNKNOWN, UNKNOWN_MARK + error, retry_in=wait) for u in call]

    def _retry(self, units: list[Unit], error: str, retry_after: float | None) -> list[Outcome]:
        """Retry what one call could not deliver with ONE delay, so it is claimed and batched (or
        merged) together again: a failed batchSend of 20 users stays one call, not 20. A unit is
        dead when its most-tried row has used up its attempts; all its rows share that outcome."""
        if not units:
            return []
        delay = retry_delay(max(u.attempts for u in units), retry_after, self.cfg.retry_base_seconds)
        return [Outcome(u, DEAD, error, alert=True) if u.attempts >= self.cfg.max_attempts
                else Outcome(u, PENDING, error, retry_in=delay) for u in units]

    # -- recording ------------------------------------------------------------------------------------
    async def _record(self, outcomes: list[Outcome], from_status: str = SENDING) -> set[int]:
        """Write every outcome of one call in one transaction, each row guarded by its fence."""
        now = self.clock()  # sent_at is business time; retry times are set on the database clock
        groups: dict[tuple[Any, ...], list[Claimed]] = defaultdict(list)
        for o in outcomes:
            groups[(o.status, o.error[:500], o.ref[:128], o.retry_in)].extend(o.unit.rows)
        plans = []
        for (status, error, ref, retry_in), rows in groups.items():
            values: dict[str, Any] = {"status": status, "lease_until": None, "last_error": error}
            if status == SENT:
                values.update(provider_ref=ref, sent_at=now)
            plans.append((rows, values, retry_in))
        done = await self._update_many(plans, from_status)
        for o in outcomes:
            ours = [r for r in o.unit.rows if r.id in done]
            self.lost_leases += len(o.unit.rows) - len(ours)
            if not ours:
                log.warning("outbox rows %s: lease lost, completion %s ignored", [r.id for r in o.unit.rows], o.status)
                continue
            self._count(o, len(ours))
            if o.alert:
                await self._alert(o)
        return done

    def _count(self, o: Outcome, n: int) -> None:
        if o.status == SENT:
            self.sent_rows += n
            self.merged_rows += n if o.unit.merged else 0
        elif o.status == PENDING:
            self.retried_rows += n
        elif o.status == FAILED:
            self.failed_rows += n
        elif o.status == DEAD:
            self.dead_rows += n
        elif o.status == EXPIRED:
            self.expired_rows += n
        elif o.status == UNKNOWN:
            self.unknown_rows += n

    async def _update_many(self, plans: list[tuple[list[Claimed], dict[str, Any], float | None]],
                           from_status: str = SENDING) -> set[int]:
        """UPDATE … WHERE (fence=f AND id IN …) OR … AND status='sending' RETURNING id, retried on lock errors.
        A plan's third item, when set, makes the rows due that many seconds from now (database clock)."""
        for attempt in range(1, 4):
            try:
                done: set[int] = set()
                async with self.db.write() as session:
                    now = await self.db.now(session)
                    for rows, fixed, retry_in in plans:
                        values = dict(fixed)
                        if retry_in is not None:
                            values["next_attempt_at"] = now + timedelta(seconds=retry_in)
                        by_fence: dict[int, list[int]] = defaultdict(list)  # usually one or two fences
                        for r in rows:
                            by_fence[r.fence].append(r.id)
                        ours = or_(*(and_(T.fence == f, T.id.in_(ids)) for f, ids in by_fence.items()))
                        stmt = (update(OutboxMessage).where(ours, T.status == from_status).values(**values)
                                .returning(T.id).execution_options(synchronize_session=False))
                        result = await session.exec(stmt)
                        done.update(result.scalars().all())
                return done
            except DBAPIError:
                if attempt == 3:
                    raise
                log.warning("outbox: recording an outcome failed, retrying", exc_info=True)
                await asyncio.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    async def _alert(self, o: Outcome) -> None:
        row, n = o.unit.head, len(o.unit.rows)
        error = f"{n} 条合并提醒：{o.error}" if n > 1 else o.error
        log.error("outbox rows %s (%s) not delivered: %s", [r.id for r in o.unit.rows], row.kind, error)
        if self.on_dead is not None and not row.kind.startswith("alert."):
            try:
                await self.on_dead(row, error)
            except Exception:  # the outcome is recorded; a failed alert must not stop the batch
                log.exception("outbox: alerting administrators failed")
