"""预警 scan at scale: 1,000,000 persons in 40,000 units. Full scan (wall time, peak RSS, findings) and the
incremental scan of one unit after an import, on SQLite and (BOT_BENCH_POSTGRES_URL) PostgreSQL.

Run: .venv/bin/python bench/warnings.py [PERSONS] [UNITS]
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from bot.context import Services  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.importing.fields import make_uscc  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.render import Renderer  # noqa: E402
from bot.router import Router  # noqa: E402
from jobs.warnings import scan_warnings  # noqa: E402
from models import Person, Unit  # noqa: E402
from models.base import utcnow  # noqa: E402
from tests.conftest import beijing  # noqa: E402

TYPES = ("行政编制", "事业编制", "工勤编制")


async def seed(db: Database, persons: int, units: int) -> None:
    rng = random.Random(11)
    now = utcnow()
    per_unit = persons // units
    async with db.write() as s:
        rows = [dict(name=f"单位{i:05d}", short_name=f"单{i:05d}", uscc=make_uscc(f"1{1 + i % 2}331099MB{i:07d}"),
                     kind="党政机关" if i % 2 == 0 else "事业单位", is_cangong=False, supervisor_name="", town="",
                     est_admin=(per_unit + rng.randint(-2, 6)) if i % 2 == 0 else 0, est_legal=0,
                     est_public=(per_unit + rng.randint(-2, 6)) if i % 2 else 0,
                     est_worker=2, posts_unit_chief=1, posts_unit_deputy=2, posts_dept_chief=3, posts_dept_deputy=3,
                     data_updated_on=date(2026, 10, 1), created_at=now, updated_at=now) for i in range(units)]
        for i in range(0, units, 5000):
            await s.exec(insert(Unit), params=rows[i:i + 5000])  # type: ignore[call-overload]
    batch: list[dict] = []
    for n in range(persons):
        unit = n % units + 1
        k = n // units
        main = TYPES[0] if unit % 2 == 1 else TYPES[1]  # 机关 (odd ids, USCC 11…) use 行政编制, 事业单位 事业编制
        staffing = main if k < per_unit - 2 else TYPES[2]
        born = date(rng.randint(1961, 1965) if rng.random() < 0.01 else rng.randint(1966, 2000), rng.randint(1, 12), 1)
        retire = date(born.year + 60 + (1 if born.year >= 1965 else 0), born.month, 1)
        leader = k < 2 or (k == 2 and rng.random() < 0.05)  # 5 % of units have one deputy too many
        batch.append(dict(id_number=f"{n:018d}", name=f"人员{n}", sex="男", birth_date=born, unit_id=unit,
                          staffing_type=staffing, category="", identity="干部", post="", is_leader=leader,
                          leader_level="单位领导" if leader else "", leader_rank="副职" if leader else "",
                          status="在编在岗", retire_category="", retirement_month=retire, note="", imported_at=now))
        if len(batch) == 20000:
            async with db.write() as s:
                await s.exec(insert(Person), params=batch)  # type: ignore[call-overload]
            batch = []
    if batch:
        async with db.write() as s:
            await s.exec(insert(Person), params=batch)  # type: ignore[call-overload]


async def main(persons: int, units: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("BOT_BENCH_POSTGRES_URL") or f"sqlite+aiosqlite:///{Path(tmp) / 'warn.db'}"
        if "postgresql" in url:
            from tests.conftest import _reset_postgres

            await _reset_postgres(url)
        db = Database(url)
        await upgrade(db)
        t0 = time.perf_counter()
        await seed(db, persons, units)
        if "postgresql" in url:  # planner statistics, as `import persons` leaves them (and autovacuum would)
            async with db.write() as s:
                await s.exec(text("ANALYZE"))
        seeded = time.perf_counter() - t0
        services = Services(db=db, renderer=Renderer(), router=Router())
        await services.calendar()
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        full = await scan_warnings(services, beijing("2026-11-23 02:30"))
        wall = time.perf_counter() - t0
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        again = await scan_warnings(services, beijing("2026-11-24 02:30"))
        rerun = time.perf_counter() - t0
        t0 = time.perf_counter()
        one = await scan_warnings(services, beijing("2026-11-24 10:00"), unit_ids=[units // 2])
        incremental = time.perf_counter() - t0
        await db.dispose()
    backend = "PostgreSQL" if "postgresql" in url else "SQLite"
    print(f"{backend}: {persons} persons in {units} units (seeded in {seeded:.0f} s)")
    print(f"full scan: {wall:.1f} s, {full.findings} findings → {full.new} warnings opened; "
          f"peak RSS {rss1:.0f} MiB (+{rss1 - rss0:.0f} MiB during the scan)")
    print(f"second full scan (no changes): {rerun:.1f} s, {again.new} new, {again.resolved} resolved")
    print(f"incremental scan of one unit after an import: {incremental * 1000:.0f} ms ({one.findings} findings)")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    asyncio.run(main(args[0] if args else 1_000_000, args[1] if len(args) > 1 else 40_000))
