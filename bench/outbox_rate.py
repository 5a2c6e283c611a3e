"""One DingTalk budget for two instances on PostgreSQL: a token row or advisory locks (issue 13, item 7).

Two "instances" (two engines, as two processes would have) each take CALLS call slots as fast as
the shared budget allows, at RATE per second together. Three ways to share it:
1. token row (bot/outbox_rate.py, what the outbox uses): one `UPDATE outboxrate … RETURNING` takes a
   slot (generic cell rate algorithm) and the caller sleeps until it without holding anything;
2. advisory lock + row: `pg_advisory_xact_lock`, then read and write the same state row: the row
   algorithm with one more statement (the row's own lock already serialises the UPDATE);
3. advisory lock only: hold `pg_advisory_lock` for 1/RATE per call (no state row). It cannot carry a
   429's Retry-After to the other instance, and every waiter holds a pooled connection in the lock.
Printed per way: the rate achieved together, the most calls in any one-second window (the budget
allows RATE + burst), the database time per call (mean and p99), and connections held while waiting.

Measured (2026-11-29, PostgreSQL 127.0.0.1, 2 shared cores; a database of its own):
  token row, one slot unthrottled: mean 1.31 ms, p99 5.56 ms
  two instances × 200 calls, budget 100/s (+2 burst): floor 4.0 s
             token row:   98.9 calls/s together, max 102 in 1 s, connections held while waiting: 0
   advisory lock + row:   98.7 calls/s together, max 102 in 1 s, db/call mean 7.62 ms p99 28.63 ms
    advisory lock only:   75.6 calls/s together, max 80 in 1 s, db/call mean 12.86 ms p99 23.34 ms,
                          1 connection held per waiting instance
Both row variants keep the budget exactly; the lock adds a statement and waits behind the other
instance's transaction. The lock-only pacing loses a quarter of the budget to the lock's round
trips and cannot share a pause. Hence the token row.

Run: BOT_BENCH_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test .venv/bin/python bench/outbox_rate.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db import Database  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.outbox_rate import SharedBucket  # noqa: E402

RATE, BURST, CALLS = 100.0, 2.0, 200
LOCK_KEY = 7_2026_13
_LOCKED_TAKE = text(
    "SELECT tat, paused_until, clock_timestamp() FROM outboxrate WHERE name = 'bench2'"
)
_LOCKED_SET = text(
    "UPDATE outboxrate SET tat = GREATEST(tat, paused_until, clock_timestamp()) + make_interval(secs => :step) "
    "WHERE name = 'bench2' RETURNING GREATEST(tat - make_interval(secs => :early), paused_until), clock_timestamp()"
)


def max_per_second(times: list[float]) -> int:
    times = sorted(times)
    j, best = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


async def token_row(db: Database, starts: list[float], db_times: list[float]) -> None:
    bucket = SharedBucket(db, RATE, BURST, name="bench1")
    for _ in range(CALLS):
        t0 = time.perf_counter()
        await bucket.acquire()
        starts.append(time.time())
        db_times.append(time.perf_counter() - t0)  # includes the sleep; the DB part is measured below


async def advisory_row(db: Database, starts: list[float], db_times: list[float]) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text("INSERT INTO outboxrate (name, tat, paused_until) VALUES ('bench2', "
                                "clock_timestamp(), clock_timestamp()) ON CONFLICT (name) DO NOTHING"))
    for _ in range(CALLS):
        t0 = time.perf_counter()
        async with db.engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
            await conn.execute(_LOCKED_TAKE)
            start, now = (await conn.execute(_LOCKED_SET, {"step": 1 / RATE, "early": BURST / RATE})).one()
        db_times.append(time.perf_counter() - t0)
        wait = (start - now).total_seconds()
        if wait > 0:
            await asyncio.sleep(wait)
        starts.append(time.time())


async def advisory_only(db: Database, starts: list[float], db_times: list[float]) -> None:
    for _ in range(CALLS):
        t0 = time.perf_counter()
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY + 1})
            db_times.append(time.perf_counter() - t0)  # includes waiting for the other instance
            starts.append(time.time())
            await asyncio.sleep(1 / RATE)  # the slot: nobody else may start until it ends
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY + 1})
            await conn.commit()


async def db_cost_of_a_slot(db: Database) -> list[float]:
    """The token row's own database time: one UPDATE … RETURNING per call, unthrottled."""
    bucket = SharedBucket(db, 1e6, 1e6, name="bench0")
    out = []
    for _ in range(300):
        t0 = time.perf_counter()
        await bucket.acquire()
        out.append(time.perf_counter() - t0)
    return out


async def main() -> None:
    url = os.environ.get("BOT_BENCH_POSTGRES_URL", "")
    if not url:
        print("BOT_BENCH_POSTGRES_URL is not set: the shared budget exists on PostgreSQL only")
        return
    setup = Database(url)
    await upgrade(setup)
    async with setup.engine.begin() as conn:
        await conn.execute(text("DELETE FROM outboxrate WHERE name LIKE 'bench%'"))
    cost = await db_cost_of_a_slot(setup)
    print(f"token row, one slot unthrottled: mean {statistics.mean(cost) * 1000:.2f} ms, "
          f"p99 {sorted(cost)[int(len(cost) * .99)] * 1000:.2f} ms")
    print(f"two instances × {CALLS} calls, budget {RATE:g}/s (+{BURST:g} burst): floor {2 * CALLS / RATE:.1f} s")
    for name, fn, held in [("token row", token_row, "0"), ("advisory lock + row", advisory_row, "0"),
                           ("advisory lock only", advisory_only, "1 per waiting instance")]:
        dbs = [Database(url), Database(url)]
        starts: list[float] = []
        db_times: list[float] = []
        t0 = time.perf_counter()
        await asyncio.gather(*(fn(db, starts, db_times) for db in dbs))
        wall = time.perf_counter() - t0
        for db in dbs:
            await db.dispose()
        db_part = "" if fn is token_row else (
            f", db/call mean {statistics.mean(db_times) * 1000:.2f} ms p99 "
            f"{sorted(db_times)[int(len(db_times) * .99)] * 1000:.2f} ms")
        print(f"{name:>20}: {2 * CALLS / wall:6.1f} calls/s together, max {max_per_second(starts)} in 1 s"
              f"{db_part}, connections held while waiting: {held}")
    await setup.dispose()


if __name__ == "__main__":
    asyncio.run(main())
