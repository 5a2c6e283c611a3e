"""监督看板 server time on the large county: 2,000 units, 200,000 approval items, 100,000 open problems,
5,000 open warnings, 2,000 feedback, a 20-group visit roster. Prints the time to compute and render
the whole board for an office leader and for a unit contact, and one unit's problem page (median of 5).

Run: .venv/bin/python bench/dashboard.py [ITEMS] [PROBLEMS]   (BOT_BENCH_POSTGRES_URL for PostgreSQL)
Target: ≤ 200 ms for the whole board, SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
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

from sqlalchemy import insert, update  # noqa: E402

from bench.approvals import UNITS  # noqa: E402
from bench.approvals import seed as seed_approvals  # noqa: E402
from bot.context import Services  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.render import Renderer  # noqa: E402
from bot.router import Router  # noqa: E402
from handlers.dashboard.board import board, unit_page, viewer  # noqa: E402
from handlers.dashboard.pages import _chart_data, render  # noqa: E402
from models import Account, ApprovalItem, Feedback, PlannedVisit, Problem, RosterPlan, VisitGroup, VisitRecord, Warning  # noqa: E402
from models.base import LOCAL_TZ, utcnow  # noqa: E402

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=LOCAL_TZ)
RULES = ["编制", "超职数", "混岗", "超龄未退", "临退", "一人多岗", "数据陈旧"]


async def seed_rest(db: Database, problems: int) -> None:
    rng = random.Random(16)
    now = utcnow()
    async with db.write() as s:
        # one item in progress out of ten has stayed in its stage for weeks (滞留)
        await s.exec(update(ApprovalItem).where(ApprovalItem.status == "办理中", ApprovalItem.id % 10 == 0)  # type: ignore[call-overload]
                     .values(stage_since=datetime(2026, 10, 20, 9, tzinfo=LOCAL_TZ)))
        rows = []
        for n in range(problems):
            rows.append(dict(number=f"ZG-2026-{n + 1:06d}", unit_id=rng.randint(1, UNITS), source="巡察",
                             description=f"问题描述{n}", requirement="", assigned_on=date(2026, 9, 1),
                             deadline=date(2026, 11, 24) + timedelta(days=rng.randint(-40, 60)),
                             deadline_provisional=False, status="待整改", revision=0, origin="",
                             created_at=now, updated_at=now))
            if len(rows) == 5000:
                await s.exec(insert(Problem), params=rows)  # type: ignore[call-overload]
                rows = []
        if rows:
            await s.exec(insert(Problem), params=rows)  # type: ignore[call-overload]
        await s.exec(insert(Warning), params=[  # type: ignore[call-overload]
            dict(number=f"YJ-2026-{n + 1:05d}", unit_id=rng.randint(1, UNITS), rule=rng.choice(RULES),
                 subject=str(n), level=rng.choice([1, 1, 2, 3]), evidence="{}", first_seen=date(2026, 6, 1),
                 last_seen=date(2026, 11, 24), resolved_on=None, notified_level=0) for n in range(5000)])
        await s.exec(insert(Account), params=[  # type: ignore[call-overload]
            dict(user_id=f"jdy{i}", name=f"监督员{i}", roles="supervisor", unit_id=None, mobile="", active=True,
                 created_at=now, updated_at=now) for i in range(20)])
        supervisor0 = UNITS + 2  # bench/approvals.py: one contact per unit, then the leader
        await s.exec(insert(Feedback), params=[  # type: ignore[call-overload]
            dict(number=f"FK-2026-{n + 1:04d}", supervisor_id=supervisor0 + n % 20, category="意见建议",
                 unit_id=rng.randint(1, UNITS), content="反馈", show_name=False, status="已办结", answer="已答复",
                 created_at=datetime(2026, 1, 1, tzinfo=LOCAL_TZ) + timedelta(hours=n * 3),
                 answered_working_days=rng.randint(1, 12)) for n in range(2000)])
        await s.exec(insert(VisitGroup), params=[  # type: ignore[call-overload]
            dict(name=f"第{g + 1}组", leader_user_id="lead", member_user_ids="", blocked_months="", avoid_unit_ids="",
                 active=True, created_at=now, updated_at=now) for g in range(20)])
        plan = RosterPlan(year=2026, report="{}")
        s.add(plan)
        await s.flush()
        await s.exec(insert(PlannedVisit), params=[  # type: ignore[call-overload]
            dict(plan_id=plan.id, unit_id=u, group_id=u % 20 + 1, month=u % 12 + 1) for u in range(1, UNITS + 1)])
        await s.exec(insert(VisitRecord), params=[  # type: ignore[call-overload]
            dict(unit_id=u, group_id=u % 20 + 1, visited_on=date(2026, u % 12 + 1, 10), who="", findings="",
                 created_at=now) for u in range(1, UNITS + 1) if u % 12 + 1 < 11 and u % 7])


async def timed(fn, runs: int = 5) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    await fn()  # warm-up: the calendar, the template cache
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = await fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


async def main(items: int, problems: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("BOT_BENCH_POSTGRES_URL") or f"sqlite+aiosqlite:///{Path(tmp) / 'board.db'}"
        if "postgresql" in url:
            from tests.conftest import _reset_postgres

            await _reset_postgres(url)
        db = Database(url)
        await upgrade(db)
        t0 = time.perf_counter()
        await seed_approvals(db, items)
        await seed_rest(db, problems)
        seeded = time.perf_counter() - t0
        services = Services(db=db, renderer=Renderer(), router=Router(), clock=lambda: NOW)

        def page(user: str):  # type: ignore[no-untyped-def]
            async def run() -> str:
                ctx = await viewer(services, user)
                data = await board(ctx)
                charts = _chart_data({s["key"]: s["data"] for s in data["sections"]})
                return render("dashboard_board.html.j2", **data, charts=charts, no_unit=False, csrf="x",
                              all_units=False, user_id=user, name="", roles="", my_unit="").text or ""
            return run

        async def unit() -> str:
            ctx = await viewer(services, "lead")
            data = await unit_page(ctx, 1)
            return render("dashboard_unit.html.j2", **(data or {}), csrf="x", user_id="lead", name="", roles="",
                          my_unit="").text or ""

        office, html = await timed(page("lead"))
        assert "滞留事项" in str(html) and 'id="chart-rates"' in str(html)
        contact, _ = await timed(page("u0000"))
        one, _ = await timed(unit)
        await db.dispose()
    backend = "PostgreSQL" if "postgresql" in url else "SQLite"
    print(f"{backend}: {UNITS} units, {items} approval items, {problems} open problems, 5000 warnings, "
          f"2000 feedback, 2000 planned visits (seeded in {seeded:.0f} s)")
    print(f"whole board, office leader (every unit, {len(str(html)) // 1024} KB of HTML): {office:.0f} ms")
    print(f"whole board, unit contact (one unit): {contact:.0f} ms")
    print(f"one unit's problems with history: {one:.0f} ms")
    print(f"(machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; target ≤ 200 ms)")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    asyncio.run(main(args[0] if args else 200_000, args[1] if len(args) > 1 else 100_000))
