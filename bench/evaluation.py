"""监管评价 at scale: 2,000 units × 23 indicators with every automatic rule over a year of data (100,000
problems, 200,000 approvals, 1,000,000 persons, warnings, feedback, visits), on SQLite and (when
BOT_BENCH_POSTGRES_URL is set) PostgreSQL. Prints the time of one full scoring (target ≤ 10 s).

Run: .venv/bin/python bench/evaluation.py [UNITS] [PROBLEMS] [APPROVALS] [PERSONS]
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from bot.db import Database  # noqa: E402
from bot.importing.fields import make_uscc  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from models import (  # noqa: E402
    Account,
    ApprovalItem,
    Feedback,
    Indicator,
    ManualScore,
    Person,
    Problem,
    ProblemEvent,
    Unit,
    VisitRecord,
    Warning,
)
from models.base import utcnow  # noqa: E402
from models.calendar.workdays import load_calendar  # noqa: E402
from models.evaluation.rules import EvaluationRules  # noqa: E402
from models.evaluation.scoring import score_year  # noqa: E402
from tests.conftest import beijing  # noqa: E402

YEAR, AS_OF = 2026, date(2026, 12, 31)
METHODS = ("日常监管", "重点工作监管", "履职考评系统监管", "随机监管")
AUTO = ("整改", "预警", "实名制", "监督员反馈", "走访", "审批")


async def bulk(db: Database, model: type, rows: list[dict], chunk: int = 20000) -> None:
    for i in range(0, len(rows), chunk):
        async with db.write() as s:
            await s.exec(insert(model), params=rows[i:i + chunk])  # type: ignore[call-overload]


def day(rng: random.Random, start: date = date(YEAR, 1, 1), span: int = 330) -> date:
    return start + timedelta(days=rng.randrange(span))


async def seed(db: Database, units: int, problems: int, approvals: int, persons: int) -> None:
    rng = random.Random(15)
    now = utcnow()
    await bulk(db, Unit, [dict(name=f"单位{i:05d}", short_name=f"单{i:05d}", uscc=make_uscc(f"11331099MB{i:07d}"),
                               kind="党政机关", is_cangong=False, supervisor_name="", town="", est_admin=20,
                               est_legal=0, est_public=0, est_worker=2, posts_unit_chief=1, posts_unit_deputy=2,
                               posts_dept_chief=3, posts_dept_deputy=3,
                               data_updated_on=None if i % 97 == 0 else day(rng, date(2026, 1, 1), 365),
                               frozen_since=date(2026, 12, 1) if i % 50 == 0 else None,
                               created_at=now, updated_at=now) for i in range(units)])
    async with db.write() as s:
        s.add(Account(id=1, user_id="sup", name="监督员", roles="supervisor"))
    inds = []
    for n in range(23):  # 12 共性, 6 关联, 5 个性; the six automatic rules and 17 manual ones
        rule = AUTO[n] if n < len(AUTO) else "人工"
        inds.append(dict(name=f"指标{n + 1:02d}", category="共性" if n < 12 else "关联" if n < 18 else "个性",
                         method=METHODS[n % 4], full_mark=10.0 if n % 3 else 5.0, rule=rule,
                         unit_ids="" if n != 22 else ",".join(str(i) for i in range(1, units, 3)), note="",
                         created_at=now, updated_at=now))
    await bulk(db, Indicator, inds)
    await bulk(db, ManualScore, [dict(year=YEAR, unit_id=u, indicator_id=7 + u % 10, score=rng.uniform(3, 5),
                                      basis="问卷", given_by="bench", updated_at=now) for u in range(1, units + 1)])
    rows, events = [], []
    for n in range(problems):
        assigned = day(rng)
        deadline = assigned + timedelta(days=rng.randint(10, 60))
        closed = rng.random() < 0.7
        closed_on = deadline + timedelta(days=rng.randint(-20, 15)) if closed else None
        rows.append(dict(number=f"ZG-{YEAR}-{n + 1:06d}", unit_id=n % units + 1, source="巡察", description="问题",
                         requirement="", assigned_on=assigned, deadline=deadline, deadline_provisional=False,
                         status="已销号" if closed else "整改中", revision=0, origin="",
                         closed_at=beijing(f"{max(closed_on, assigned)} 10:00") if closed_on else None,
                         created_at=now, updated_at=now))
        if n % 10 == 0:
            events.append(dict(problem_id=n + 1, at=beijing(f"{assigned + timedelta(days=5)} 10:00"), actor_name="",
                               action="退回", detail=""))
    await bulk(db, Problem, rows)
    await bulk(db, ProblemEvent, events)
    statuses = ("已办结", "已办结", "已办结", "已退回", "已撤回", "办理中")
    rows = []
    for n in range(approvals):
        submitted = day(rng)
        rows.append(dict(number=f"SP{n:07d}", unit_id=n % units + 1, type="用编核准", title="",
                         submitted_at=beijing(f"{submitted} 10:00"), submitted_on=submitted, stage="审核",
                         stage_since=beijing(f"{submitted} 10:00"), handler_user_id="", handler_name="",
                         status=statuses[n % len(statuses)], source="file", created_at=now, updated_at=now))
    await bulk(db, ApprovalItem, rows)
    await bulk(db, Warning, [dict(number=f"YJ-{YEAR}-{n:05d}", unit_id=n % units + 1, rule="超编", subject=str(n),
                                  level=3 if n % 3 == 0 else 1, evidence="{}", first_seen=day(rng), last_seen=AS_OF,
                                  resolved_on=None if n % 2 else AS_OF - timedelta(days=3), notified_level=0)
                             for n in range(units * 3)])
    await bulk(db, Feedback, [dict(number=f"FK-{YEAR}-{n:05d}", supervisor_id=1, category="其他",
                                   unit_id=n % units + 1, content="反馈", show_name=False, status="已受理", answer="",
                                   created_at=beijing(f"{day(rng)} 10:00"),
                                   accepted_at=beijing(f"{AS_OF} 10:00") if n % 2 else None)
                              for n in range(units * 3)])
    await bulk(db, VisitRecord, [dict(unit_id=n % units + 1, visited_on=day(rng), who="", findings="",
                                      problem_id=n + 1 if n % 4 == 0 else None, created_at=now)
                                 for n in range(units * 5)])
    batch = []
    for n in range(persons):
        batch.append(dict(id_number=f"{n:018d}", name=f"人员{n}", sex="男", birth_date=date(1980, 1, 1),
                          unit_id=n % units + 1, staffing_type="行政编制", category="", identity="干部", post="",
                          is_leader=False, leader_level="", leader_rank="", status="在编在岗", retire_category="",
                          note="", imported_at=now))
        if len(batch) == 50000:
            await bulk(db, Person, batch, 50000)
            batch = []
    if batch:
        await bulk(db, Person, batch, 50000)


async def main(units: int, problems: int, approvals: int, persons: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("BOT_BENCH_POSTGRES_URL") or f"sqlite+aiosqlite:///{Path(tmp) / 'evaluation.db'}"
        if "postgresql" in url:
            from tests.conftest import _reset_postgres

            await _reset_postgres(url)
        db = Database(url)
        await upgrade(db)
        t0 = time.perf_counter()
        await seed(db, units, problems, approvals, persons)
        seeded = time.perf_counter() - t0
        cal = await load_calendar(db)
        t0 = time.perf_counter()
        async with db.read() as session:
            results = await score_year(session, YEAR, AS_OF, cal, EvaluationRules())
        wall = time.perf_counter() - t0
        await db.dispose()
    backend = "PostgreSQL" if "postgresql" in url else "SQLite"
    cells = sum(len(r.items) for r in results)
    print(f"{backend}: {units} units, 23 indicators, {problems} problems, {approvals} approvals, {persons} persons "
          f"(seeded in {seeded:.0f} s)")
    print(f"scoring {cells} unit×indicator cells with every automatic rule: {wall:.2f} s (target ≤ 10 s); "
          f"best {results[0].total:.2f}, last {results[-1].total:.2f}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    defaults = (2_000, 100_000, 200_000, 1_000_000)
    asyncio.run(main(*(args[i] if len(args) > i else d for i, d in enumerate(defaults))))
