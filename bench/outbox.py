"""Outbox throughput: 10,000 due reminders for 2,000 users delivered by one OutboxWorker (in this
process) to the emulator at `rate_per_second = 100`. Prints numbers, asserts nothing.

Three runs over the same 2,000 users (100 groups of 20; 5 reminders each, all due at once):
1. not mergeable, 500 distinct texts × 20 users: identical messages share a batchSend → 500 calls;
2. mergeable, the same texts: each person's 5 reminders become one message (2,000 messages), and
   the 20 people of a group get the same merged text, so they still share a batchSend → 100 calls;
3. mergeable, every reminder naming its own case (as the ladder's do): 2,000 merged messages that
   are all different → 2,000 calls.

floor = calls / rate is the least time the rate limit allows; wall/floor near 1 means the
dispatcher keeps up with its rate limit. The worker's token bucket holds 2 tokens (its default),
not `rate`: a bucket of 100 tokens would let the first 100 calls go at once, so a run could beat
its own floor by a second and the ratio would hide the dispatcher's overhead. With 2, only the
first two calls are free (0.02 s). A burst of 1 would be stricter still but loses every timer
overshoot and every slow claim for good; it measured wall/floor 1.17 on the first run.
Run 2 is bound by the database, not the rate: each call settles 100 rows (claim, merge, record),
and aiosqlite pays a thread round trip per statement.

Run: .venv/bin/python bench/outbox.py   (SQLite; BOT_BENCH_POSTGRES_URL=postgresql+asyncpg://… for PostgreSQL)
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import DingTalkConfig, OutboxConfig  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.dingtalk_api import DingTalkAPI  # noqa: E402
from bot.emulator import Emulator  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.outbox import OutboxWorker  # noqa: E402
from models.base import utcnow  # noqa: E402
from models.outbox import enqueue, user_recipient  # noqa: E402

RATE = 100.0
USERS, PER_USER, GROUP = 2000, 5, 20  # 100 groups of 20 users; 5 texts per group → 500 texts
# A claim must hold whole groups: 100 rows = 20 users × 5 reminders (one group), so batches and
# merges are never cut by a claim boundary. (The production default, 50, would split some.)
BATCH_SIZE = GROUP * PER_USER
TAG = re.compile(r"\[([^\]]+)\]")


def ladder_scan_benchmark() -> None:
    """Placeholder: the scan that writes the ladder's reminders is timed elsewhere."""
    print("ladder scan: see bench/ladder.py")


async def seed(db: Database, *, mergeable: bool, unique: bool) -> int:
    due = utcnow()  # all due at the same moment, as at 08:45
    n = 0
    async with db.write() as session:
        for g in range(USERS // GROUP):
            users = [f"u{g * GROUP + i:04d}" for i in range(GROUP)]
            pairs = ([(u, k) for u in users for k in range(PER_USER)] if mergeable
                     else [(u, k) for k in range(PER_USER) for u in users])  # claim order = id order
            for u, k in pairs:
                tag = f"t{g * PER_USER + k}" + (f"-{u}" if unique else "")
                await enqueue(session, dedup_key=f"bench:{tag}:{u}", kind="bench.reminder",
                              recipient=user_recipient(u), msg_key="sampleMarkdown",
                              param={"title": "整改提醒", "text": f"请按期完成整改 [{tag}]"},
                              due_at=due, mergeable=mergeable)
                n += 1
    return n


async def one_run(name: str, db_url: str, fresh: bool, *, mergeable: bool, unique: bool) -> None:
    emu = Emulator(client_id="bench", client_secret="bench-secret")
    url = await emu.start()
    db = Database(db_url)
    if fresh:
        from sqlalchemy import text

        async with db.write() as session:
            await session.exec(text("DELETE FROM outboxmessage"))  # type: ignore[call-overload]
    rows = await seed(db, mergeable=mergeable, unique=unique)
    cfg = DingTalkConfig(client_id="bench", client_secret="bench-secret", api_endpoint=url, http_timeout=10.0)
    ocfg = OutboxConfig(rate_per_second=RATE, batch_size=BATCH_SIZE, lease_seconds=60)
    async with aiohttp.ClientSession() as http:
        worker = OutboxWorker(db, DingTalkAPI(cfg, http), ocfg, owner="bench")
        t0 = time.perf_counter()
        while await worker.dispatch_once():
            pass
        wall = time.perf_counter() - t0
    delivered = Counter((s.to, tag) for s in emu.ledger for tag in TAG.findall(s.text))
    dups = sum(n - 1 for n in delivered.values())
    floor = worker.calls / RATE
    print(f"{name:<34} {rows:>6} {len(delivered):>9} {dups:>4} {len(emu.ledger):>8} {worker.calls:>6} "
          f"{wall:>7.2f} s {floor:>6.2f} s {wall / floor:>6.3f}")
    await db.dispose()
    await emu.stop()


async def main() -> None:
    drop = None
    with tempfile.TemporaryDirectory() as tmp:
        db_url = os.environ.get("BOT_BENCH_POSTGRES_URL") or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        if "postgresql" in db_url:  # a database of its own beside the given one, dropped at the end
            from tests.bot.outbox_harness import create_postgres_db

            db_url, drop = await create_postgres_db(db_url)
        db = Database(db_url)
        await upgrade(db)
        await db.dispose()
        backend = "PostgreSQL" if "postgresql" in db_url else "SQLite"
        print(f"outbox: {USERS * PER_USER} due reminders for {USERS} users, one worker, {backend}, "
              f"rate {RATE:.0f}/s, burst 2, batch_size {BATCH_SIZE}")
        print(f"{'run':<34} {'rows':>6} {'delivered':>9} {'dup':>4} {'messages':>8} {'calls':>6} "
              f"{'wall':>9} {'floor':>8} {'wall/floor':>6}")
        await one_run("batched, not mergeable", db_url, False, mergeable=False, unique=False)
        await one_run("mergeable, same texts per group", db_url, True, mergeable=True, unique=False)
        await one_run("mergeable, every reminder unique", db_url, True, mergeable=True, unique=True)
    if drop is not None:
        await drop()
    ladder_scan_benchmark()


if __name__ == "__main__":
    asyncio.run(main())
