"""监管评价 over time, through the emulator on 示例县: the monthly 考评通报 (leaders get the ranking with
movements, each unit only its own result), 年度定级 with 约谈 tasks and reminders until done, the
三-year 黑名单, and 不达标 onto the 异常名录."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from bot.app import import_file
from jobs.evaluation import daily, monthly_report
from models import Interview, ScoreSnapshot, Unit
from models.staffing.watchlist import WatchEntry
from tests.conftest import Chat, FakeClock, beijing

DEMO = Path(__file__).resolve().parents[2] / "bot" / "demo"


async def spread_scores(db, tmp_path: Path) -> dict[str, int]:
    """Every unit a distinct 满意度 score: ids in order, 城关镇 last, 教育局 first. Returns id by short name."""
    async with db.read() as s:
        units = (await s.exec(select(Unit).order_by(Unit.id))).all()
    order = sorted(units, key=lambda u: (u.short_name != "教育局", u.short_name == "城关镇", u.id))
    lines = ["单位,指标,得分,依据"]
    lines += [f"{u.name},服务社会满意度情况,{10 - i * 0.3:.1f},问卷" for i, u in enumerate(order)]
    path = tmp_path / "scores.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    await import_file(db, "scores", path)
    return {u.short_name: u.id for u in units}  # type: ignore[misc]


@pytest.fixture
async def app(make_bot, tmp_path):
    bot = await make_bot(clock=FakeClock(beijing("2026-12-01 10:00")))  # Tuesday, the first working day
    await import_file(bot.db, "indicators", DEMO / "indicators.csv")
    bot.ids = await spread_scores(bot.db, tmp_path)
    return bot


@pytest.fixture
def chat(emulator, app) -> Chat:
    return Chat(emulator)


async def test_monthly_report_ranks_with_movements_for_leaders_and_own_result_for_units(app, emulator):
    async with app.db.write() as s:  # October's 通报: 教育局 was 3rd, 城关镇 20th
        s.add(ScoreSnapshot(year=2026, month=10, unit_id=app.ids["教育局"], total=90, rank=3))
        s.add(ScoreSnapshot(year=2026, month=10, unit_id=app.ids["城关镇"], total=90, rank=20))
    sent = await monthly_report(app.services)
    assert sent > 0
    assert await monthly_report(app.services) == 0  # once per month
    [leader] = await emulator.wait_push("bb_ld1")
    assert "2026 年 11 月考评通报" in leader.text
    assert "第1名 教育局：100.00 分 · 优秀（↑2）" in leader.text
    assert "城关镇" in leader.text and "↓11" in leader.text and "住建局" in leader.text
    [unit] = await emulator.wait_push("jyj_ll")
    assert "教育局 · 2026 年 11 月考评情况" in unit.text and "**100.00**" in unit.text and "优秀" in unit.text
    [town] = await emulator.wait_push("cgz_ll")
    assert "城关镇" in town.text and "服务社会满意度情况：扣 9 分" in town.text and "不达标" in town.text
    for other in ("教育局", "财政局", "住建局", "第1名"):
        assert other not in town.text
    async with app.db.read() as s:
        assert len((await s.exec(select(ScoreSnapshot).where(ScoreSnapshot.month == 11))).all()) == 31
    assert await monthly_report(app.services, beijing("2026-12-02 10:00")) == 0  # not the first working day


async def test_a_missed_report_goes_out_later_in_the_month(app, emulator):
    app.services.clock.set(beijing("2026-12-03 10:00"))  # the bot was down on the 1st
    assert await monthly_report(app.services) > 0
    [leader] = await emulator.wait_push("bb_ld1")
    assert "2026 年 11 月考评通报" in leader.text
    assert await monthly_report(app.services, beijing("2026-12-04 10:00")) == 0
    assert await monthly_report(app.services, beijing("2026-11-30 10:00")) == 0  # too late for October's


async def test_annual_tiers_interviews_reminders_blacklist_and_watchlist(app, chat, emulator):
    town, media = app.ids["城关镇"], app.ids["县医院"]
    async with app.db.write() as s:  # 城关镇 bad in 2024 and 2025; 县医院 only in 2024
        for year, unit_id in ((2024, town), (2025, town), (2024, media)):
            s.add(ScoreSnapshot(year=year, month=0, unit_id=unit_id, total=50, rank=31, tier="不达标", last_five=True))
    assert "没有使用“年度定级”的权限" in (await chat.say("bb_ywy1", "年度定级 2026")).text
    result = await chat.say("bb_ld1", "年度定级 2026")
    assert "优秀 6 家，良好 16 家，达标 6 家，不达标 3 家" in result.text  # 31 units: 6.2, 15.5→16, 3.1
    assert "纳入机构编制黑名单：城关镇" in result.text and "不达标：城关镇、河西乡、东岭街道" in result.text
    assert "后五名：东岭街道、城关镇、总工会、河西乡、青山镇" in result.text
    leader = await emulator.wait_push("bb_ld2", count=2)
    [black] = [p for p in leader if "黑名单" in p.text]
    assert "机构编制黑名单" in black.text and "2024—2026" in black.text and "城关镇" in black.text
    [task] = await emulator.wait_push("bb_ywy2")
    assert "待约谈单位" in task.text and "城关镇" in task.text
    [listed] = await emulator.wait_push("cgz_ll")
    assert "已列入监管异常名录（年度考评不达标）" in listed.text
    async with app.db.read() as s:
        interviews = (await s.exec(select(Interview))).all()
        assert len(interviews) == 5  # the last five (不达标 are among them)
        assert (await s.exec(select(WatchEntry).where(WatchEntry.unit_id == town))).one().source == "tier"
    ranking = await chat.say("bb_ywy1", "考评 2026")
    assert "2026 年度监管评价排名" in ranking.text and "年度定级结果" in ranking.text
    assert "城关镇（异常名录）" in ranking.text and "第1名 教育局：100.00 分 · 优秀" in ranking.text
    assert "· 不达标" in ranking.text
    bulletin = await chat.say("bb_ld1", "考评通报 2026")
    assert "现将 2026 年度监管评价结果通报如下" in bulletin.text and "纳入机构编制黑名单的单位：城关镇" in bulletin.text
    again = await chat.say("bb_ld1", "年度定级 2026")
    assert "（已定级）" in again.text
    assert len(emulator.pushes_to("bb_ld2")) == 2  # nothing told twice

    open_list = await chat.say("bb_ywy1", "约谈")
    assert "城关镇" in open_list.text and "2026 年度考评后五名、不达标" in open_list.text
    assert "约谈情况说明" in (await chat.say("bb_ywy1", "约谈 城关镇 已完成")).text
    done = await chat.say("bb_ywy1", "约谈 城关镇 已完成 已约谈镇长和分管领导")
    assert "约谈已完成" in done.text
    assert "没有待完成的约谈任务" in (await chat.say("bb_ywy1", "约谈 城关镇 已完成 再来一次")).text
    # five working days later the office is reminded of the four still open, not of 城关镇
    app.services.clock.set(beijing("2026-12-08 10:00"))  # the outbox sends what is due by this clock
    await daily(app.services)
    reminders = [p for p in await emulator.wait_push("bb_ywy1", count=5) if "约谈提醒" in p.text]
    assert len(reminders) == 4 and not any("城关镇" in p.text for p in reminders)
    app.services.clock.set(beijing("2026-12-09 10:00"))
    await daily(app.services)  # not a 5th working day: nothing new
    assert len([p for p in emulator.pushes_to("bb_ywy1") if "约谈提醒" in p.text]) == 4


async def test_not_blacklisted_without_three_years_in_a_row(app, chat, emulator):
    town = app.ids["城关镇"]
    async with app.db.write() as s:  # bad in 2024 only: 2025 was fine
        s.add(ScoreSnapshot(year=2024, month=0, unit_id=town, total=50, rank=31, tier="不达标", last_five=True))
        s.add(ScoreSnapshot(year=2025, month=0, unit_id=town, total=90, rank=3, tier="优秀"))
    result = await chat.say("bb_ld1", "年度定级 2026")
    assert "黑名单" not in result.text
    await emulator.wait_push("bb_ywy2")
    assert not [p for p in emulator.pushes_to("bb_ld1") if "黑名单" in p.text]


async def test_january_report_finalises_the_year_just_ended(app, emulator):
    clock = app.services.clock
    clock.set(beijing("2027-01-04 09:30"))  # Monday after 元旦: the first working day of January
    await monthly_report(app.services)
    async with app.db.read() as s:
        annual = (await s.exec(select(ScoreSnapshot).where(ScoreSnapshot.year == 2026,
                                                            ScoreSnapshot.month == 0))).all()
        december = (await s.exec(select(ScoreSnapshot).where(ScoreSnapshot.month == 12))).all()
    assert len(annual) == 31 and len(december) == 31
    assert sum(s.tier == "不达标" for s in annual) == 3 and sum(s.last_five for s in annual) == 5
