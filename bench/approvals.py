"""审批 at scale: 200,000 items in 2,000 units. `进度` and `我的审批` round trips through the emulator with
50 concurrent users (p50/p99 ms, messages/s), and the time of `办结率 本年`.

Run: .venv/bin/python bench/approvals.py [ITEMS] [ROUNDS]   (BOT_BENCH_POSTGRES_URL for PostgreSQL)
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from bot.app import BotApp  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.demo import demo_config  # noqa: E402
from bot.emulator import Emulator  # noqa: E402
from bot.importing.fields import make_uscc  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from models import Account, ApprovalItem, Unit  # noqa: E402
from models.approvals.stats import period_stats  # noqa: E402
from models.approvals.tables import DAILY_TYPES  # noqa: E402
from models.base import LOCAL_TZ, utcnow  # noqa: E402

UNITS, USERS = 2000, 50


async def seed(db: Database, items: int) -> None:
    rng = random.Random(3)
    now = utcnow()
    async with db.write() as s:
        await s.exec(insert(Unit), params=[  # type: ignore[call-overload]
            dict(name=f"示例单位{i:04d}", short_name=f"单位{i:04d}", uscc=make_uscc(f"12331099MB{i:07d}"),
                 kind="事业单位", is_cangong=False, supervisor_name="", town="", est_admin=0, est_legal=0,
                 est_public=10, est_worker=1, posts_unit_chief=1, posts_unit_deputy=2, posts_dept_chief=3,
                 posts_dept_deputy=3, created_at=now, updated_at=now) for i in range(UNITS)])
        await s.exec(insert(Account), params=[  # type: ignore[call-overload]
            dict(user_id=f"u{i:04d}", name=f"联络员{i}", roles="unit_contact", unit_id=i + 1, mobile="", active=True,
                 created_at=now, updated_at=now) for i in range(UNITS)]
            + [dict(user_id="lead", name="领导", roles="office_leader", unit_id=None, mobile="", active=True,
                    created_at=now, updated_at=now)])
        rows = []
        for n in range(items):
            day = date(2026, 1, 5) + timedelta(days=rng.randint(0, 320))
            submitted = datetime(day.year, day.month, day.day, 9, tzinfo=LOCAL_TZ)
            done = rng.random() < 0.8
            days = rng.choice([0, 0, 0, 1, 2, 3, 5, 8]) if done else None
            rows.append(dict(
                number=f"SP-{n:06d}", unit_id=n % UNITS + 1, type=rng.choice(DAILY_TYPES), title=f"事项{n}",
                submitted_at=submitted, submitted_on=day, stage="办结" if done else "审核",
                stage_since=submitted if done else now,  # open items moved stage recently (no mass 催办)
                handler_user_id="", handler_name="李明", status="已办结" if done else "办理中",
                completed_at=submitted + timedelta(days=days) if done else None,
                completed_on=day + timedelta(days=days) if done else None, working_days=days, source="bench",
                created_at=now, updated_at=now))
        rows.sort(key=lambda r: r["submitted_at"])  # stored as they arrive: in order of submission
        for i in range(0, len(rows), 5000):
            await s.exec(insert(ApprovalItem), params=rows[i:i + 5000])  # type: ignore[call-overload]


async def settle(db_url: str) -> None:
    """On PostgreSQL, what autovacuum does within a minute of a bulk load: statistics and the visibility
    map, so that plans and index-only scans are those of a database in use, not of one loaded a second ago."""
    if "postgresql" not in db_url:
        return
    import asyncpg

    conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def user_loop(emu: Emulator, user: int, rounds: int, items: int, times: list[float]) -> None:
    rng = random.Random(user)
    for r in range(rounds):
        if r % 2:
            text = "我的审批"
        else:
            text = f"进度 SP-{rng.randrange(items // UNITS) * UNITS + user:06d}"  # an item of this user's unit
        t0 = time.perf_counter()
        await emu.wait_reply(await emu.send_text(f"u{user:04d}", text), timeout=60)
        times.append((time.perf_counter() - t0) * 1000)


async def main(items: int, rounds: int) -> None:
    emu = Emulator(client_id="demo-app", client_secret="demo-secret", ping_interval=20)
    url = await emu.start()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = demo_config(Path(tmp), url, 0)
        db_url = os.environ.get("BOT_BENCH_POSTGRES_URL") or cfg.database.url
        if "postgresql" in db_url:
            from tests.conftest import _reset_postgres

            await _reset_postgres(db_url)
        db = Database(db_url)
        await upgrade(db)
        t0 = time.perf_counter()
        await seed(db, items)
        seeded = time.perf_counter() - t0
        await settle(db_url)
        cfg = dataclasses.replace(cfg, database=dataclasses.replace(cfg.database, url=db_url),
                                  bot=dataclasses.replace(cfg.bot, rate_limit_count=10**6, log_level="WARNING"))
        app = BotApp(cfg, db)
        await app.start(serve_http=False)
        await emu.wait_connected()
        times: list[float] = []
        t0 = time.perf_counter()
        await asyncio.gather(*(user_loop(emu, u, rounds, items, times) for u in range(USERS)))
        wall = time.perf_counter() - t0
        t0 = time.perf_counter()
        async with db.read() as s:
            stats = await period_stats(s, date(2026, 1, 1), date(2026, 11, 24), open_after=date(2026, 11, 23))
        rate_time = time.perf_counter() - t0
        await app.stop()
    await emu.stop()
    times.sort()
    backend = "PostgreSQL" if "postgresql" in db_url else "SQLite"
    print(f"{backend}: {items} items in {UNITS} units (seeded in {seeded:.1f} s)")
    print(f"进度 / 我的审批 through the emulator, {USERS} concurrent users × {rounds}: "
          f"p50 {statistics.median(times):.0f} ms, p99 {times[int(0.99 * (len(times) - 1))]:.0f} ms, "
          f"{len(times) / wall:.0f} messages/s")
    print(f"办结率 本年 ({stats.submitted} daily items, rate {stats.same_day_rate:.1%}): {rate_time * 1000:.0f} ms")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    asyncio.run(main(args[0] if args else 200_000, args[1] if len(args) > 1 else 10))
