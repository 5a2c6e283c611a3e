"""Import of approval items at county scale: 200,000 rows of `import approvals` (a CSV export of the
provincial platform) into a county of 2,000 units, then the same file again with one item in ten moved
to another stage (history events and one notification per unit). Prints the time of each import and
the peak RSS of the process (resource.getrusage).

Run: .venv/bin/python bench/import_approvals.py [ROWS]   (BOT_BENCH_POSTGRES_URL for PostgreSQL)
"""

from __future__ import annotations

import asyncio
import csv
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

from sqlalchemy import func, select  # noqa: E402

from bench.approvals import UNITS, seed  # noqa: E402
from bot.app import import_file  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from models import ApprovalEvent, OutboxMessage  # noqa: E402
from models.approvals.tables import DAILY_TYPES  # noqa: E402

HEADERS = ["事项编号", "所属单位", "业务类型", "事项名称", "提交时间", "当前环节", "当前经办人", "状态", "办结时间"]


def write_export(path: Path, rows: int, moved: bool) -> None:
    """One item in ten is 办理中; with `moved` those are in 审核 instead of 受理."""
    rng = random.Random(5)
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADERS)
        for n in range(rows):
            day = date(2025, 1, 6) + timedelta(days=rng.randint(0, 600))
            unit = f"示例单位{n % UNITS:04d}"
            if n % 10 == 0:
                out.writerow([f"SP-{n:06d}", unit, rng.choice(DAILY_TYPES), f"事项{n}", f"{day} 09:00",
                              "审核" if moved else "受理", "李明", "办理中", ""])
            else:
                done = day + timedelta(days=rng.choice([0, 0, 1, 2, 5]))
                out.writerow([f"SP-{n:06d}", unit, rng.choice(DAILY_TYPES), f"事项{n}", f"{day} 09:00", "办结",
                              "李明", "已办结", f"{done} 16:00"])


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db_url = os.environ.get("BOT_BENCH_POSTGRES_URL") or f"sqlite+aiosqlite:///{tmp}/bench.db"
        if "postgresql" in db_url:
            from tests.conftest import _reset_postgres

            await _reset_postgres(db_url)
        db = Database(db_url)
        await upgrade(db)
        await seed(db, 0)  # 2,000 units, each with a contact
        first, second = Path(tmp) / "first.csv", Path(tmp) / "second.csv"
        write_export(first, rows, moved=False)
        write_export(second, rows, moved=True)
        print(f"{'PostgreSQL' if 'postgresql' in db_url else 'SQLite'}: {rows} rows, {UNITS} units; "
              f"before importing, peak RSS {peak_mb():.0f} MB")
        t0 = time.perf_counter()
        result = await import_file(db, "approvals", first)
        print(f"first import (all new): {time.perf_counter() - t0:.1f} s, {result.summary()}, "
              f"peak RSS {peak_mb():.0f} MB")
        t0 = time.perf_counter()
        result = await import_file(db, "approvals", second)
        print(f"second import (1 in 10 moved stage): {time.perf_counter() - t0:.1f} s, {result.summary()}, "
              f"peak RSS {peak_mb():.0f} MB")
        async with db.read() as s:
            events = (await s.exec(select(func.count()).select_from(ApprovalEvent))).one()  # type: ignore[call-overload]
            notices = (await s.exec(select(func.count()).select_from(OutboxMessage))).one()  # type: ignore[call-overload]
        print(f"history events: {events[0]}, outbox messages: {notices[0]}")
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000))
