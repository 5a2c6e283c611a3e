"""`import persons` at scale: a CSV of 1,000,000 persons in 40,000 units into an empty snapshot, then the
same file with one bad row (rejected, nothing written). Prints wall time and peak RSS of each, on SQLite
and (BOT_BENCH_POSTGRES_URL) PostgreSQL.

Run: .venv/bin/python bench/import_persons.py [PERSONS] [UNITS]
"""

from __future__ import annotations

import asyncio
import csv
import os
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert  # noqa: E402
from sqlmodel import select  # noqa: E402

from bot.db import Database  # noqa: E402
from bot.importing import ImportRejected, import_file, register_kinds  # noqa: E402
from bot.importing.fields import id_check_char, make_uscc  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from handlers.staffing.import_persons import SPEC  # noqa: E402
from models import Person, Unit  # noqa: E402
from models.base import utcnow  # noqa: E402

HEADERS = ("身份证号", "姓名", "所在单位", "编制类型", "人员类别", "身份", "职务名称", "是否领导职务", "领导职数层级",
           "正副", "人员状态")


async def seed_units(db: Database, units: int) -> None:
    now = utcnow()
    rows = [dict(name=f"单位{i:05d}", short_name=f"单{i:05d}", uscc=make_uscc(f"1{1 + i % 2}331099MB{i:07d}"),
                 kind="党政机关" if i % 2 == 0 else "事业单位", is_cangong=False, supervisor_name="", town="",
                 est_admin=30, est_legal=0, est_public=30, est_worker=2, posts_unit_chief=1, posts_unit_deputy=2,
                 posts_dept_chief=3, posts_dept_deputy=3, data_updated_on=date(2026, 10, 1), created_at=now,
                 updated_at=now) for i in range(units)]
    async with db.write() as s:
        for i in range(0, units, 5000):
            await s.exec(insert(Unit), params=rows[i:i + 5000])  # type: ignore[call-overload]


def write_csv(path: Path, persons: int, units: int, bad_row: int | None = None) -> None:
    start = date(1966, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADERS)
        for n in range(persons):
            born = start + timedelta(days=n % 12000)
            prefix = f"331099{born:%Y%m%d}{n // 12000:03d}"
            idn = prefix + id_check_char(prefix)
            if n == bad_row:
                idn = idn[:-1] + ("0" if idn[-1] != "0" else "1")  # a wrong check character
            unit = n % units
            leader = n // units == 0
            out.writerow((idn, f"人员{n}", f"单位{unit:05d}", "行政编制" if unit % 2 == 0 else "事业编制",
                          "公务员" if unit % 2 == 0 else "事业管理", "干部", "科员", "是" if leader else "否",
                          "单位领导" if leader else "", "正职" if leader else "", "在编在岗"))


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main(persons: int, units: int) -> None:
    register_kinds([SPEC])
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("BOT_BENCH_POSTGRES_URL") or f"sqlite+aiosqlite:///{Path(tmp) / 'import.db'}"
        if "postgresql" in url:
            from tests.conftest import _reset_postgres

            await _reset_postgres(url)
        db = Database(url)
        await upgrade(db)
        await seed_units(db, units)
        good, bad = Path(tmp) / "persons.csv", Path(tmp) / "persons_bad.csv"
        write_csv(good, persons, units)
        write_csv(bad, persons, units, bad_row=persons - 10)
        rss0 = rss_mib()
        t0 = time.perf_counter()
        result = await import_file(db, "persons", good)
        wall = time.perf_counter() - t0
        rss1 = rss_mib()
        t0 = time.perf_counter()
        try:
            await import_file(db, "persons", bad)
            rejected = "accepted (wrong!)"
        except ImportRejected as exc:
            rejected = f"rejected: {exc.lines[0]}"
        wall_bad = time.perf_counter() - t0
        async with db.read() as s:
            stored = (await s.exec(select(func.count()).select_from(Person))).one()
        await db.dispose()
    backend = "PostgreSQL" if "postgresql" in url else "SQLite"
    print(f"{backend}: import persons, {persons} rows in {units} units")
    print(f"clean file: {wall:.1f} s ({persons / wall:.0f} rows/s), {result.added} added; "
          f"peak RSS {rss1:.0f} MiB (before the import {rss0:.0f} MiB)")
    print(f"same file with a bad row {persons - 10 + 2}: {wall_bad:.1f} s, {rejected}; {stored} persons stored after")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    asyncio.run(main(args[0] if args else 1_000_000, args[1] if len(args) > 1 else 40_000))
