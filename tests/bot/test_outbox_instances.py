"""Two instances on one database (production runs two on PostgreSQL), and sends that get no answer.

Each instance is an OutboxWorker with its own engine and its own emulator label (`/_as/<label>`),
so the emulator counts every call per instance. Covers issue 13 items 6-8:
- leases run on the database's clock: app clocks a minute apart neither steal a live lease nor
  keep an expired one;
- the DingTalk budget is one per app: two instances together stay within one rate, and a 429's
  Retry-After seen by one pauses the other;
- a send without an answer becomes `unknown`, is counted, and is settled by the late answer
  (delivered → sent without a resend; an error → resent), or sent again once the wait is over.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bot.config import DingTalkConfig, OutboxConfig
from bot.db import Database
from bot.dingtalk_api import DingTalkAPI
from bot.emulator import Emulator, Fault
from bot.outbox import COUNTERS, OutboxWorker
from models.base import utcnow
from models.outbox import PENDING, SENDING, SENT, UNKNOWN
from tests.bot.outbox_harness import OutboxDB, user, wait_until

SKEW = timedelta(minutes=1)



@pytest.fixture
async def instances(emulator: Emulator, shared_db: OutboxDB) -> AsyncIterator[Any]:
    """`make(label, skew=…, http_timeout=…, **outbox)`: a worker with its own engine and app clock."""
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        workers: list[OutboxWorker] = []

        def make(label: str, skew: timedelta = timedelta(0), http_timeout: float = 3.0,
                 **outbox: Any) -> OutboxWorker:
            cfg = DingTalkConfig(client_id=emulator.client_id, client_secret=emulator.client_secret,
                                 api_endpoint=f"{emulator.base_url}/_as/{label}", http_timeout=http_timeout)
            db = Database(shared_db.url)
            stack.push_async_callback(db.dispose)
            settings = {"lease_seconds": 10, "retry_base_seconds": 0.01, "rate_per_second": 1000.0,
                        "poll_seconds": 0.05, **outbox}
            worker = OutboxWorker(db, DingTalkAPI(cfg, http), OutboxConfig(**settings), owner=label,
                                  clock=lambda: utcnow() + skew)
            workers.append(worker)
            return worker

        yield make
        for w in workers:
            w.stop()


async def run_until_sent(workers: list[OutboxWorker], shared_db: OutboxDB, timeout: float = 20) -> None:
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        await shared_db.wait_for(lambda rows: all(r.status == SENT for r in rows), timeout=timeout)
    finally:
        for w in workers:
            w.stop()
        await asyncio.gather(*tasks)


def users(n: int) -> list[str]:
    return [user(i) for i in range(1, n + 1)]


# -- item 6: leases on the database clock ----------------------------------------------------------------------
async def test_a_fast_clock_does_not_steal_a_live_lease(instances, shared_db):
    await shared_db.seed(["a"], users(3))
    a, b = instances("A"), instances("B", skew=SKEW)  # B's host runs a minute ahead
    claimed = await a.claim()
    assert len(claimed) == 3
    assert await b.claim() == []  # A's 10 s lease is live, whatever B's clock says
    assert await a.complete(claimed[0], SENT)  # A still holds its lease


async def test_an_expired_lease_is_not_kept_by_a_fast_clock(instances, shared_db):
    await shared_db.seed(["a"], users(3))
    a = instances("A", skew=SKEW, lease_seconds=1)  # A claims as if it were a minute later
    b = instances("B")
    claimed = await a.claim()
    assert await b.claim() == []
    await asyncio.sleep(1.2)  # A's lease has expired (A died, say): B takes the rows over
    taken = await b.claim()
    assert sorted(r.id for r in taken) == sorted(r.id for r in claimed)
    assert all(r.fence == 2 for r in taken)
    assert not await a.complete(claimed[0], SENT)  # A's late completion loses to the fence
    assert {r.lease_owner for r in await shared_db.rows()} == {"B"}


# -- item 7: one DingTalk budget for every instance (PostgreSQL; one SQLite instance keeps its own bucket) ------
def max_per_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


@pytest.mark.parametrize("shared_db", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_two_instances_together_stay_within_one_app_rate(instances, shared_db, emulator):
    rate, burst = 10.0, 2
    await shared_db.seed(["r"], users(36), per_user=True)  # 36 distinct texts: one call each
    a, b = (instances(label, rate_per_second=rate, batch_size=4) for label in ("A", "B"))
    await run_until_sent([a, b], shared_db)
    calls = emulator.requests_to("batchSend")
    assert len(calls) == 36
    assert emulator.requests_to("batchSend", "A") and emulator.requests_to("batchSend", "B")  # both sent
    # one app's budget: rate per second plus the burst (+2 for scheduling jitter); two buckets give ~22
    assert max_per_second([r.arrived for r in calls]) <= rate + burst + 2


@pytest.mark.parametrize("shared_db", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_a_429_seen_by_one_instance_pauses_the_other(instances, shared_db, emulator):
    await shared_db.seed(["r"], users(30), per_user=True)
    a, b = (instances(label, rate_per_second=10.0, batch_size=4) for label in ("A", "B"))
    emulator.faults.inject("batchSend", Fault(status=429, retry_after=1.5))
    await run_until_sent([a, b], shared_db)
    calls = emulator.requests_to("batchSend")
    [throttled] = [r for r in calls if r.status == 429]
    assert throttled.answered is not None
    # calls already on their way when the 429 was answered are allowed; none may start in the window
    started_later = [r for r in calls if r.arrived > throttled.answered + 0.2]
    assert {r.client for r in started_later} == {"A", "B"}
    inside = [(r.client, round(r.arrived - throttled.answered, 2)) for r in started_later
              if r.arrived < throttled.answered + 1.5 - 0.01]
    assert inside == [], "a call inside the other instance's Retry-After window"


# -- item 8: a send without an answer is `unknown`, counted, then reconciled ----------------------------------------
async def test_a_timeout_whose_late_answer_says_delivered_is_sent_without_a_resend(instances, shared_db, emulator):
    before = COUNTERS.ambiguous_sends, COUNTERS.reconciled_delivered
    emulator.faults.hold("batchSend", 2.0)  # DingTalk takes the call, answers after the client's timeout
    await shared_db.seed(["a"], users(2))
    w = instances("A", http_timeout=0.4, unknown_seconds=10)
    assert await w.dispatch_once() == 2
    rows = await shared_db.rows()
    assert {r.status for r in rows} == {UNKNOWN} and all(r.last_error.startswith("unknown: ") for r in rows)
    assert COUNTERS.ambiguous_sends == before[0] + 2
    assert await w.dispatch_once() == 0  # an unknown row is not sent blind
    rows = await shared_db.wait_for(lambda rows: all(r.status == SENT for r in rows), timeout=5)
    assert all(r.provider_ref for r in rows)
    assert COUNTERS.reconciled_delivered == before[1] + 2
    assert len(emulator.requests_to("batchSend")) == 1
    assert sorted(s.to for s in emulator.ledger) == users(2)  # each delivered once


async def test_a_timeout_whose_late_answer_is_an_error_is_resent(instances, shared_db, emulator):
    before = COUNTERS.ambiguous_sends, COUNTERS.reconciled_not_delivered
    emulator.faults.inject("batchSend", Fault(status=503, delay=2.0))  # slow, then refused: not delivered
    await shared_db.seed(["a"], users(2))
    w = instances("A", http_timeout=0.4, unknown_seconds=10)
    await w.dispatch_once()
    assert {r.status for r in await shared_db.rows()} == {UNKNOWN}
    await shared_db.wait_for(lambda rows: all(r.status == PENDING for r in rows), timeout=5)
    assert COUNTERS.reconciled_not_delivered == before[1] + 2
    await run_until_sent([w], shared_db)
    assert [r.status for r in emulator.requests_to("batchSend")] == [503, 200]
    assert sorted(s.to for s in emulator.ledger) == users(2)
    assert COUNTERS.ambiguous_sends == before[0] + 2


async def test_a_send_that_never_gets_an_answer_is_sent_again_once_and_counted(instances, shared_db, emulator):
    before = COUNTERS.ambiguous_sends, COUNTERS.unknown_resent
    emulator.faults.hold("batchSend", 30)  # taken, and the answer never comes
    await shared_db.seed(["a"], users(2))
    w = instances("A", http_timeout=0.4, unknown_seconds=1.0)
    await w.dispatch_once()
    assert {r.status for r in await shared_db.rows()} == {UNKNOWN}
    await wait_until(lambda: not w._late, what="the wait for a late answer to end")
    assert {r.status for r in await shared_db.rows()} == {UNKNOWN}  # still unknown: no answer settled it
    await run_until_sent([w], shared_db)
    rows = await shared_db.rows()
    assert all(r.attempts == 2 and r.fence == 2 for r in rows)
    assert len(emulator.requests_to("batchSend")) == 2  # the one resend the policy allows
    assert COUNTERS.ambiguous_sends == before[0] + 2 and COUNTERS.unknown_resent == before[1] + 2


async def test_a_timed_out_row_is_not_reclaimed_by_another_instance_while_unknown(instances, shared_db, emulator):
    emulator.faults.hold("batchSend", 2.0)
    await shared_db.seed(["a"], users(2))
    a = instances("A", http_timeout=0.4, unknown_seconds=10, lease_seconds=2)
    b = instances("B", skew=SKEW)
    await a.dispatch_once()
    await asyncio.sleep(0.3)
    assert await b.claim() == [] and {r.status for r in await shared_db.rows()} == {UNKNOWN}
    await shared_db.wait_for(lambda rows: all(r.status == SENT for r in rows), timeout=5)
    assert len(emulator.requests_to("batchSend")) == 1
    assert SENDING not in {r.status for r in await shared_db.rows()}
