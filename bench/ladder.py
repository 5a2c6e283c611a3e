"""The daily ladder scan over 100,000 open problems in 2,000 units: wall time, new reminders, peak memory.

Run: .venv/bin/python bench/ladder.py [PROBLEMS]   (SQLite; BOT_BENCH_POSTGRES_URL for PostgreSQL)
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from bot.context import Services  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.importing.fields import make_uscc  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.render import Renderer  # noqa: E402
from bot.router import Router  # noqa: E402
from jobs.rectification import scan_ladder  # noqa: E402
from models import Account, Problem, Unit  # noqa: E402
from models.base import utcnow  # noqa: E402
from tests.conftest import beijing  # noqa: E402

UNITS = 2000


async def seed(db: Database, problems: int) -> None:
    rng = random.Random(7)
    now = utcnow()
    async with db.write() as s:
        await s.exec(insert(Unit), params=[  # type: ignore[call-overload]
            dict(name=f"示例单位{i:04d}", short_name=f"单位{i:04d}", uscc=make_uscc(f"12331099MB{i:07d}"),
                 kind="事业单位", is_cangong=False, supervisor_name="", town=f"镇{i % 20}", est_admin=0,
                 est_legal=0, est_public=10, est_worker=1, posts_unit_chief=1, posts_unit_deputy=2,
                 posts_dept_chief=3, posts_dept_deputy=3, created_at=now, updated_at=now) for i in range(UNITS)])
        await s.exec(insert(Account), params=[  # type: ignore[call-overload]
            dict(user_id=f"u{i:04d}", name=f"联络员{i}", roles="unit_contact", unit_id=i + 1, mobile="", active=True,
                 created_at=now, updated_at=now) for i in range(UNITS)]
            + [dict(user_id="leader1", name="领导", roles="office_leader", unit_id=None, mobile="", active=True,
                    created_at=now, updated_at=now)])
        rows = []
        for n in range(problems):
            deadline = date(2026, 11, 24) + timedelta(days=rng.randint(-40, 60))
            rows.append(dict(number=f"ZG-2026-{n + 1:06d}", unit_id=rng.randint(1, UNITS), source="巡察",
                             description=f"问题描述{n}", requirement="", assigned_on=date(2026, 9, 1),
                             deadline=deadline, deadline_provisional=False, status="待整改", revision=0,
                             origin="", created_at=now, updated_at=now))
        for i in range(0, len(rows), 5000):
            await s.exec(insert(Problem), params=rows[i:i + 5000])  # type: ignore[call-overload]


async def main(problems: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("BOT_BENCH_POSTGRES_URL") or f"sqlite+aiosqlite:///{Path(tmp) / 'ladder.db'}"
        if "postgresql" in url:
            from tests.conftest import _reset_postgres

            await _reset_postgres(url)
        db = Database(url)
        await upgrade(db)
        await seed(db, problems)
        services = Services(db=db, renderer=Renderer(), router=Router())
        await services.calendar()
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        result = await scan_ladder(services, beijing("2026-11-24 08:45"))
        wall = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = await scan_ladder(services, beijing("2026-11-24 10:00"))
        rerun = time.perf_counter() - t0
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        await db.dispose()
    backend = "PostgreSQL" if "postgresql" in url else "SQLite"
    print(f"ladder scan, {backend}: {result.problems} open problems in {UNITS} units → {result.reminders} reminders "
          f"enqueued, {result.frozen} units frozen: {wall:.2f} s; process RSS peak {rss1:.0f} MiB "
          f"(+{rss1 - rss0:.0f} MiB over the seeded process)")
    print(f"second scan the same day (all dedup hits): {rerun:.2f} s, {again.reminders} new reminders")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
