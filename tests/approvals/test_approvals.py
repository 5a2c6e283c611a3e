"""审批进度: queries per role, foreign-unit isolation, stage-change notices once, 催办, and 办结率 on a
hand-checked data set that crosses 国庆 2026 (10/1-10/7 off, 10/10 a make-up Saturday)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import select

from handlers.approvals.stats import period_of
from handlers.approvals.sync import apply_items
from jobs.approvals import urge_stuck_items
from models import ApprovalEvent, Unit
from models.approvals.ops import ItemData
from models.approvals.stats import period_stats
from tests.conftest import Chat, FakeClock, beijing

DAY = "2026-10-20 10:00"  # a Tuesday


def item(number: str, unit: int, type_: str, submitted: str, stage: str = "审核", status: str = "办理中",
         done: str | None = None, handler: str = "bb_ywy1", title: str = "") -> ItemData:
    return ItemData(number=number, unit_id=unit, type=type_, title=title or f"{type_}事项{number}",
                    submitted_at=beijing(submitted), stage=stage, status=status, handler_user_id=handler,
                    handler_name="李明" if handler == "bb_ywy1" else handler,
                    completed_at=beijing(done) if done else None)


async def unit_id(db, short: str) -> int:
    async with db.read() as s:
        return (await s.exec(select(Unit.id).where(Unit.short_name == short))).one()


async def seed(app, items: list[ItemData], now: datetime | None = None) -> None:
    services = app.services
    async with services.db.write() as s:
        await apply_items(s, items, source="test", cal=await services.calendar(), renderer=services.renderer,
                          now=now or services.clock())
    app.outbox.nudge()


@pytest.fixture
async def app(make_bot):
    return await make_bot(clock=FakeClock(beijing(DAY)))


@pytest.fixture
async def dataset(app):
    edu, health = await unit_id(app.db, "教育局"), await unit_id(app.db, "卫健局")
    await seed(app, [
        item("SP-A", edu, "用编核准", "2026-10-08 09:00", "办结", "已办结", "2026-10-08 16:00"),
        item("SP-B", edu, "用编核准", "2026-10-09 10:00", "办结", "已办结", "2026-10-12 11:00"),
        item("SP-C", health, "人员上编", "2026-10-10 09:00", "办结", "已办结", "2026-10-10 15:00"),
        item("SP-D", health, "人员上编", "2026-10-12 09:00", "办结", "已办结", "2026-10-16 10:00"),
        item("SP-E", edu, "人员下编", "2026-10-13 09:00", "审核"),
        item("SP-F", edu, "人员异动", "2026-10-14 09:00", "受理", "已撤回"),
        item("SP-G", edu, "增加编制", "2026-10-08 09:00", "办结", "已办结", "2026-10-09 17:00"),
        item("SP-H", edu, "用编核准", "2026-09-30 09:00", "办结", "已办结", "2026-10-08 10:00"),
    ], now=beijing("2026-10-16 18:00"))
    return edu, health


async def test_completion_rate_by_hand(app, dataset):
    start, end, _label = period_of("本月", beijing(DAY).date())
    async with app.db.read() as s:
        stats = await period_stats(s, start, end)
    assert (stats.submitted, stats.same_day) == (5, 2) and stats.same_day_rate == 0.4
    by_type = {t.type: (t.submitted, t.done, t.avg_days, t.p90_days) for t in stats.by_type}
    assert by_type == {"用编核准": (2, 2, 1.0, 2), "人员上编": (2, 2, 2.0, 4), "人员下编": (1, 0, None, None),
                       "增加编制": (1, 1, 1.0, 1)}
    assert stats.by_status == {"已办结": 5, "办理中": 1, "已撤回": 1}
    assert [n for n, *_ in stats.slowest] == ["SP-D", "SP-B", "SP-G", "SP-A", "SP-C"]
    async with app.db.read() as s:
        last = await period_stats(s, *period_of("上月", beijing(DAY).date())[:2])
    assert (last.submitted, last.same_day) == (1, 0)


async def test_completion_rate_in_chat(app, dataset, emulator):
    reply = await Chat(emulator).say("bb_ld1", "办结率")
    assert "当日办结率 40.0%" in reply.text
    assert "用编核准：提交 2，办结 2，平均 1.0 个工作日，90% 在 2 个工作日内" in reply.text
    assert "没有使用“办结率”的权限" in (await Chat(emulator).say("jyj_ll", "办结率")).text


async def test_progress_for_the_unit_and_isolation(app, dataset, emulator):
    chat = Chat(emulator)
    mine = await chat.say("jyj_ll", "进度 SP-E")
    assert "人员下编" in mine.text and "审核" in mine.text and "李明" in mine.text and "全程纪实" in mine.text
    assert "本环节已 5 个工作日" in mine.text  # 10/13 → 10/20: 14, 15, 16, 19, 20
    foreign = await chat.say("jyj_ll", "进度 SP-D")  # 卫健局's item
    unknown = await chat.say("jyj_ll", "进度 SP-Z")
    assert "没有找到" in foreign.text and foreign.text.replace("SP-D", "X") == unknown.text.replace("SP-Z", "X")
    just_number = await chat.say("jyj_ll", "SP-E")
    assert "全程纪实" in just_number.text
    assert "没有听懂" in (await chat.say("jyj_ll", "SP-D")).text
    by_title = await chat.say("jyj_ll", "进度 人员下编事项")
    assert "SP-E" in by_title.text
    listing = await chat.say("jyj_ll", "我的审批")
    assert "SP-E" in listing.text and "SP-D" not in listing.text


async def test_office_queries(app, dataset, emulator):
    chat = Chat(emulator)
    health = await chat.say("bb_ywy1", "审批 卫健局")
    assert "SP-C" in health.text and "SP-E" not in health.text
    stuck = await chat.say("bb_ywy1", "审批 超时")
    assert "SP-E" in stuck.text and "SP-A" not in stuck.text
    assert "没有使用“审批”的权限" in (await chat.say("jyj_ll", "审批 超时")).text
    noted = await chat.say("bb_ywy1", "纪实 SP-G 衔接 已与组织部沟通")
    assert "已记入" in noted.text
    assert "已与组织部沟通" in (await chat.say("bb_ywy1", "进度 SP-G")).text


async def test_overdue_and_stalled_are_told_apart_with_plain_figures(app, dataset, emulator):
    """审批 超时: an item past its time limit and one merely stalled in a stage (5 of 10 days) are
    listed under separate headings; every figure names its unit (个工作日)."""
    edu = await unit_id(app.db, "教育局")
    await seed(app, [item("SP-X", edu, "用编核准", "2026-09-21 09:00", "审核")], now=beijing("2026-09-21 09:00"))
    stuck = await Chat(emulator).say("bb_ywy1", "审批 超时")
    overdue, stalled = stuck.text.split("**环节滞留")
    assert "**超过时限 1 件**" in overdue and "SP-X" in overdue and "SP-E" not in overdue
    assert "已逾期" in next(x for x in overdue.splitlines() if " SP-X " in x)
    line = next(x for x in stalled.splitlines() if " SP-E " in x)
    assert "🔴" not in line
    assert "本环节已 5 个工作日，累计 5 个工作日（时限 10 个工作日，不含今天还剩 5 个工作日）" in line
    assert " 天" not in stuck.text and "超时或滞留" not in stuck.text


async def test_stage_change_is_told_once_and_opt_out_is_respected(app, emulator):
    edu = await unit_id(app.db, "教育局")
    await seed(app, [item("SP-1", edu, "用编核准", "2026-10-19 09:00", "受理")])
    await seed(app, [item("SP-1", edu, "用编核准", "2026-10-19 09:00", "审核")])
    await seed(app, [item("SP-1", edu, "用编核准", "2026-10-19 09:00", "审核")])  # same again: nothing new
    [push] = await emulator.wait_push("jyj_ll")
    assert "进入“审核”环节" in push.text
    await emulator.wait_push("jyj_fzr")
    assert "已退订" in (await Chat(emulator).say("jyj_ll", "退订审批通知")).text
    await seed(app, [item("SP-1", edu, "用编核准", "2026-10-19 09:00", "办结", "已办结", "2026-10-20 09:30")])
    pushes = await emulator.wait_push("jyj_fzr", count=2)
    assert "已办结" in pushes[-1].text and "用时 1 个工作日" in pushes[-1].text
    assert len(emulator.pushes_to("jyj_ll")) == 1
    async with app.db.read() as s:
        kinds = [e.kind for e in (await s.exec(select(ApprovalEvent).order_by(ApprovalEvent.id))).all()]
    assert kinds == ["提交", "环节", "环节", "状态"]


async def test_urging_the_handler_then_the_leaders_once_per_stage(app, emulator):
    edu = await unit_id(app.db, "教育局")
    await seed(app, [item("SP-9", edu, "用编核准", "2026-10-12 09:00", "审核")], now=beijing("2026-10-12 09:00"))
    services = app.services
    assert await urge_stuck_items(services, beijing("2026-10-15 10:00")) == 0  # 3 working days: not yet
    assert await urge_stuck_items(services, beijing("2026-10-16 10:00")) == 1  # 4: the handler
    assert await urge_stuck_items(services, beijing("2026-10-16 15:00")) == 0  # never twice for one stage
    assert await urge_stuck_items(services, beijing("2026-10-20 10:00")) == 2  # 6: both office leaders
    app.outbox.nudge()
    [push] = await emulator.wait_push("bb_ywy1")
    assert "已停留 4 个工作日" in push.text
    await emulator.wait_push("bb_ld1")


async def test_contacting_the_handler_from_the_progress_card(app, dataset, emulator):
    reply = await Chat(emulator).say("jyj_ll", "进度 SP-E")
    link = "dtmd://dingtalkclient/sendMessage?content=%E8%81%94%E7%B3%BB%E7%BB%8F%E5%8A%9E%E4%BA%BA%20SP-E"
    assert ("联系经办人", link) in reply.buttons
    asked = await Chat(emulator).say("jyj_ll", "联系经办人 SP-E")
    assert "已请经办人 李明 与您联系" in asked.text
    [note] = await emulator.wait_push("bb_ywy1")
    assert "示例县教育局 王芳（电话 13900000101）想了解审批事项 SP-E" in note.text
    assert "没有找到" in (await Chat(emulator).say("jyj_ll", "联系经办人 SP-D")).text  # another unit's item


async def test_same_day_counts_rest_day_submissions_and_leaves_todays_pending_out(app, dataset, emulator):
    """Issue 12.10: submitted Saturday and finished Monday is same-day; an item submitted today and still
    pending does not lower the rate during the day, and the reply says so and names the denominator."""
    edu = dataset[0]
    await seed(app, [
        item("SP-S", edu, "用编核准", "2026-10-17 09:00", "办结", "已办结", "2026-10-19 10:00"),  # Sat → Mon
        item("SP-T", edu, "人员上编", "2026-10-20 09:00"),  # today, pending: left out
        item("SP-U", edu, "人员下编", "2026-10-19 09:00"),  # yesterday, pending: counted, not same-day
    ], now=beijing("2026-10-20 09:30"))
    async with app.db.read() as s:
        stats = await period_stats(s, *period_of("本月", beijing(DAY).date())[:2],
                                   open_after=beijing("2026-10-19 10:00").date())
    assert (stats.submitted, stats.same_day, stats.pending_today) == (7, 3, 1)  # A, C, S of A-E, S, U
    reply = await Chat(emulator).say("bb_ld1", "办结率")
    assert "当日办结率 42.9%" in reply.text and "当日办结 3 件 ÷ 本期提交的日常事项 7 件" in reply.text
    assert "今天提交、仍在办理的 1 件今天还可能办结，暂不计入" in reply.text
    assert "休息日提交的算下一个工作日" in reply.text
