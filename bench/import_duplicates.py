"""Import time of a units file full of duplicate keys against one of distinct rows (issue 13, item 5).

Duplicates are found in one pass (bot.importing.base.drop_duplicates), so a file of 20,000 copies of
one row is refused about as fast as 20,000 distinct rows are imported: both grow linearly. Before,
10,000 copies took 13.6 s and 19,000 took 47 s (quadratic). Each case runs on a fresh SQLite file.

Run: .venv/bin/python bench/import_duplicates.py [--rows 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db import Database  # noqa: E402
from bot.importing import ImportRejected, import_file  # noqa: E402
from bot.importing.fields import make_uscc  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from handlers.staffing.import_units import COLUMNS  # noqa: E402

HEADER = [c.header for c in COLUMNS]


def unit_row(i: int) -> list[str]:
    return [f"示例县第{i}中心", f"第{i}中心", make_uscc(f"12331099MB{i:07d}"), "事业单位", "否", "", "城关镇",
            "0", "0", "5", "0", "1", "1", "0", "0", "2026-11-01"]


async def run(rows: list[list[str]], workdir: Path, name: str) -> tuple[float, str]:
    path = workdir / f"{name}.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([HEADER, *rows])
    db = Database(f"sqlite+aiosqlite:///{workdir / name}.db")
    await upgrade(db)
    start = time.perf_counter()
    try:
        outcome = (await import_file(db, "units", path)).summary()
    except ImportRejected as rejected:
        outcome = f"拒绝：{len(rejected.lines)} 行说明，末行“{rejected.lines[-1]}”"
    elapsed = time.perf_counter() - start
    await db.dispose()
    return elapsed, outcome


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    n = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        cases = [(f"{n} copies of one row", [unit_row(1)] * n),
                 (f"{n // 2} copies of one row", [unit_row(1)] * (n // 2)),
                 (f"{n} distinct rows", [unit_row(i) for i in range(1, n + 1)])]
        for i, (label, rows) in enumerate(cases):
            elapsed, outcome = await run(rows, workdir, f"case{i}")
            print(f"{label:>28}: {elapsed:6.2f} s  {outcome}")


if __name__ == "__main__":
    asyncio.run(main())
