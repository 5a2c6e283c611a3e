"""The daily ladder scan: what it enqueues, when, for whom; idempotence; reschedule on change; freeze."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlmodel import select

from bot.context import Services
from bot.render import Renderer
from bot.router import Router
from jobs.rectification import scan_ladder
from models import Account, AuditEvent, OutboxMessage, Problem, Unit
from models.rectification.ops import accept, create_problem, decide_extension, request_extension
from tests.conftest import beijing


@pytest.fixture
async def services(demo_db):
    return Services(db=demo_db, renderer=Renderer(), router=Router())


async def add_problem(services, unit_short: str, deadline: date, assigned: date = date(2026, 9, 1)) -> Problem:
    async with services.db.write() as s:
        unit = (await s.exec(select(Unit).where(Unit.short_name == unit_short))).one()
        return await create_problem(s, unit_id=unit.id, source="巡察", description=f"{unit_short}的问题",
                                    requirement="", assigned_on=assigned, deadline=deadline, provisional=False,
                                    actor=None)


async def outbox(services) -> list[OutboxMessage]:
    async with services.db.read() as s:
        return list((await s.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_scan_enqueues_todays_rungs_once(services):
    before5 = await add_problem(services, "教育局", date(2026, 10, 9))  # 5 working days after 9/24
    due = await add_problem(services, "卫健局", date(2026, 9, 24))
    overdue = await add_problem(services, "城关镇", date(2026, 9, 17))  # 5 working days overdue on 9/24
    now = beijing("2026-09-24 08:45")
    first = await scan_ladder(services, now)
    assert first.problems == 3
    rows = await outbox(services)
    keys = {r.dedup_key for r in rows}
    assert keys == {
        f"problem.remind:{before5.id}:r0:before5:jyj_ll",
        f"problem.remind:{due.id}:r0:due:wjj_ll",
        f"problem.remind:{overdue.id}:r0:escalate_leader:cgz_fzr",
        f"problem.remind:{overdue.id}:r0:escalate_office:bb_ld1",
        f"problem.remind:{overdue.id}:r0:escalate_office:bb_ld2",
    }
    assert all(r.mergeable and r.due_at == beijing("2026-09-24 09:00") for r in rows)
    assert all(r.expires_at == beijing("2026-09-24 18:00") for r in rows)
    assert "还剩 5 个工作日" in next(r.payload for r in rows if "before5" in r.dedup_key)
    again = await scan_ladder(services, beijing("2026-09-24 11:00"))
    assert again.reminders == 0 and len(await outbox(services)) == 5


async def test_no_reminders_on_rest_days_or_after_hours(services):
    await add_problem(services, "教育局", date(2026, 10, 8))
    assert (await scan_ladder(services, beijing("2026-10-03 08:45"))).reminders == 0  # 国庆
    assert (await scan_ladder(services, beijing("2026-09-30 18:30"))).reminders == 0  # too late today
    assert (await scan_ladder(services, beijing("2026-09-30 08:45"))).reminders == 1  # before1


async def test_extension_cancels_pending_rungs_and_starts_a_new_ladder(services):
    problem = await add_problem(services, "教育局", date(2026, 10, 9))
    await scan_ladder(services, beijing("2026-09-24 08:45"))
    async with services.db.write() as s:
        p = await s.get(Problem, problem.id)
        actor = (await s.exec(select(Account).where(Account.user_id == "bb_ywy1"))).one()
        req = await request_extension(s, p, actor, date(2026, 10, 15), "理由")
        await decide_extension(s, p, req, actor, approved=True, note="", provisional=False)
    [old] = await outbox(services)
    assert old.status == "cancelled"
    await scan_ladder(services, beijing("2026-10-09 08:45"))  # 10/15: 5 working days on (10/10 is a make-up day)
    new = [r for r in await outbox(services) if r.status == "pending"]
    assert [r.dedup_key for r in new] == [f"problem.remind:{problem.id}:r1:before5:jyj_ll"]


async def test_closing_cancels_pending_reminders(services):
    problem = await add_problem(services, "教育局", date(2026, 10, 9))
    await scan_ladder(services, beijing("2026-09-24 08:45"))
    async with services.db.write() as s:
        p = await s.get(Problem, problem.id)
        actor = (await s.exec(select(Account).where(Account.user_id == "bb_ywy1"))).one()
        await accept(s, p, actor)
    assert [r.status for r in await outbox(services)] == ["cancelled"]
    assert (await scan_ladder(services, beijing("2026-09-29 08:45"))).reminders == 0


async def test_freeze_after_ten_working_days_overdue_and_lifted_when_closed(services):
    problem = await add_problem(services, "教育局", date(2026, 9, 10))  # 9/20 is a make-up Sunday
    result = await scan_ladder(services, beijing("2026-09-23 08:45"))  # 10 working days overdue: not yet
    assert result.frozen == 0
    result = await scan_ladder(services, beijing("2026-09-24 08:45"))  # 11
    assert result.frozen == 1
    async with services.db.write() as s:
        unit = await s.get(Unit, problem.unit_id)
        assert unit.frozen_since == date(2026, 9, 24)
        actor = (await s.exec(select(Account).where(Account.user_id == "bb_ywy1"))).one()
        await accept(s, await s.get(Problem, problem.id), actor)
    assert (await scan_ladder(services, beijing("2026-09-28 08:45"))).unfrozen == 1
    async with services.db.read() as s:
        actions = [e.action for e in (await s.exec(select(AuditEvent).where(
            AuditEvent.action.like("unit.%")))).all()]
    assert actions == ["unit.freeze", "unit.unfreeze"]


async def test_after_downtime_the_startup_scan_reminds_once_merged_per_person(demo_db, make_bot, emulator):
    """The bot was down at 08:45: on start it scans at once; two rungs for 王芳 arrive as one message."""
    from tests.conftest import FakeClock

    services = Services(db=demo_db, renderer=Renderer(), router=Router())
    await add_problem(services, "教育局", date(2026, 10, 9))  # before5 on 9/24
    await add_problem(services, "教育局", date(2026, 9, 30))  # before3 on 9/24 (中秋 9/25-27 off)
    app = await make_bot(clock=FakeClock(beijing("2026-09-24 09:00")))
    [merged] = await emulator.wait_push("jyj_ll", timeout=15)
    assert merged.param["title"] == "您有2条提醒"
    assert "还剩 5 个工作日" in merged.text and "还剩 3 个工作日" in merged.text
    from jobs.rectification import scan_ladder as again

    assert (await again(app.services)).reminders == 0  # a second scan the same day adds nothing
    app.outbox.nudge()
    await asyncio.sleep(0.5)
    assert len(emulator.pushes_to("jyj_ll")) == 1


async def test_a_rest_day_deadline_is_due_on_the_next_working_day(services):
    """Issue 12.8: a deadline of 2026-10-03 (国庆) said "今天到期" on 09-30 and escalated on 10-08."""
    problem = await add_problem(services, "教育局", date(2026, 10, 3))
    await scan_ladder(services, beijing("2026-09-30 08:45"))
    [row] = await outbox(services)
    assert row.dedup_key == f"problem.remind:{problem.id}:r0:before1:jyj_ll"
    assert "2026-10-03（节假日顺延至 2026-10-08）" in row.payload and "今天到期" not in row.payload
    await scan_ladder(services, beijing("2026-10-08 08:45"))
    keys = [r.dedup_key for r in await outbox(services)][1:]
    assert keys == [f"problem.remind:{problem.id}:r0:due:jyj_ll"]  # due today, no escalation
    async with services.db.read() as s:
        unit = (await s.exec(select(Unit).where(Unit.short_name == "教育局"))).one()
    assert unit.frozen_since is None
