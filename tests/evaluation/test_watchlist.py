"""监管异常名录 through the emulator: entry and exit by the office (reason, audit, the unit told), entry by
rule (complaints in a quarter, a warning rule back within a year), and what the lower capabilities do
with it: priority in the 走访 planner, two tickets in 双随机 draws, marks in 台账 and 预警."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select

from bot.app import import_file
from jobs.evaluation import daily
from models import AuditEvent, RandomDraw, Unit, Warning
from models.calendar.workdays import load_calendar
from models.staffing.watchlist import WatchEntry
from models.visits.inspections import draw
from models.visits.queries import priority_units
from tests.conftest import Chat, FakeClock, beijing


@pytest.fixture
async def app(make_bot):
    return await make_bot(clock=FakeClock(beijing("2026-11-23 10:00")))


@pytest.fixture
def chat(emulator, app) -> Chat:
    return Chat(emulator)


async def unit_id(db, short: str) -> int:
    async with db.read() as s:
        return (await s.exec(select(Unit.id).where(Unit.short_name == short))).one()


async def test_office_adds_and_removes_with_a_reason_and_the_lower_capabilities_follow(app, chat, emulator):
    edu = await unit_id(app.db, "教育局")
    async with app.db.write() as s:
        s.add(Warning(number="YJ-2026-0001", unit_id=edu, rule="超编", subject="行政编制", level=3,
                      first_seen=date(2026, 11, 1), last_seen=date(2026, 11, 23)))
    assert "理由" in (await chat.say("bb_ywy1", "异常名录 加入 教育局")).text
    assert "没有使用“异常名录”的权限" in (await chat.say("jyj_ll", "异常名录")).text
    assert "没有加入或移出" in (await chat.say("bb_ld1", "异常名录 加入 教育局 领导不能单独决定")).text
    added = await chat.say("bb_ywy1", "异常名录 加入 教育局 群众反映履职不到位")
    assert "已将示例县教育局列入监管异常名录" in added.text
    [told] = await emulator.wait_push("jyj_ll")
    assert "已列入监管异常名录（编办决定）：群众反映履职不到位" in told.text
    assert "已在监管异常名录中" in (await chat.say("bb_ywy1", "异常名录 加入 教育局 再来一次")).text
    listing = await chat.say("bb_ld1", "异常名录")
    assert "示例县教育局：编办决定（自 2026-11-23）。群众反映履职不到位" in listing.text

    await chat.say("bb_ywy1", "交办 教育局 巡察 10个工作日 超编借调人员3名")
    await chat.say("bb_ywy1", "交办 财政局 巡察 10个工作日 混岗")
    ledger = await chat.say("bb_ywy1", "台账")
    assert "教育局（异常名录）" in ledger.text and "财政局（异常名录）" not in ledger.text
    assert "教育局（异常名录）" in (await chat.say("bb_ywy1", "预警")).text
    async with app.db.read() as s:
        assert edu in await priority_units(s, today=date(2026, 11, 23), cal=await load_calendar(app.db))
    await chat.say("bb_ywy1", "随机抽查 3家 1人")
    async with app.db.read() as s:
        record = (await s.exec(select(RandomDraw))).one()
    pool = Counter(__import__("json").loads(record.unit_pool))
    assert pool[edu] == 2 and set(pool.values()) == {1, 2} and len(pool) == 30  # the office itself is never drawn
    recheck = await chat.say("bb_ywy1", f"复核抽查 {record.id}")
    assert "与当时结果一致" in recheck.text

    removed = await chat.say("bb_ywy1", "异常名录 移出 教育局 整改到位，投诉明显减少")
    assert "已将示例县教育局移出监管异常名录" in removed.text
    pushes = await emulator.wait_push("jyj_ll", count=3)  # 列入, the 交办, 移出
    assert "已移出监管异常名录：整改到位，投诉明显减少" in pushes[-1].text
    assert "（异常名录）" not in (await chat.say("bb_ywy1", "台账")).text
    async with app.db.read() as s:
        actions = [e.action for e in (await s.exec(select(AuditEvent).where(
            AuditEvent.action.like("watchlist.%"), AuditEvent.entity_id == str(edu)))).all()]  # type: ignore[attr-defined]
        entry = (await s.exec(select(WatchEntry))).one()
    assert actions == ["watchlist.enter", "watchlist.leave"]
    assert (entry.added_by, entry.removed_by, entry.until) == ("bb_ywy1", "bb_ywy1", date(2026, 11, 23))


async def test_rules_put_units_on_the_list(app, emulator, tmp_path: Path):
    rows = ["日期,单位,类别,摘要", "2026-10-08,城关镇,12345热线,垃圾清运不及时", "2026-11-02,城关镇,信访,征地补偿",
            "2026-09-30,城关镇,12345热线,上一季度的不算", "2026-11-10,财政局,12345热线,只有一件"]
    path = tmp_path / "complaints.csv"
    path.write_text("\n".join(rows), encoding="utf-8")
    result = await import_file(app.db, "complaints", path)
    assert result.added == 4
    assert (await import_file(app.db, "complaints", path)).unchanged == 4  # the same rows again
    edu = await unit_id(app.db, "教育局")
    async with app.db.write() as s:  # 超编 cleared in May, back in September: the same kind within a year
        s.add(Warning(number="YJ-2026-0001", unit_id=edu, rule="超编", subject="行政编制", level=3,
                      first_seen=date(2026, 3, 1), last_seen=date(2026, 5, 1), resolved_on=date(2026, 5, 1)))
        s.add(Warning(number="YJ-2026-0002", unit_id=edu, rule="超编", subject="行政编制", level=2,
                      first_seen=date(2026, 9, 1), last_seen=date(2026, 11, 23)))
    await daily(app.services)
    async with app.db.read() as s:
        assert {e.unit_id: e.source for e in (await s.exec(select(WatchEntry))).all()} == {edu: "recurrence"}
    rows.append("2026-11-20,城关镇,12345热线,第三件")
    path.write_text("\n".join(rows), encoding="utf-8")
    await import_file(app.db, "complaints", path)
    await daily(app.services)
    [town] = await emulator.wait_push("cgz_ll")
    assert "投诉集中" in town.text and "本季度收到投诉 3 件（达到 3 件）" in town.text
    [edu_told] = await emulator.wait_push("jyj_ll")
    assert "“超编”预警消除后一年内再次出现" in edu_told.text
    await daily(app.services)  # on the list already: not again
    assert len(emulator.pushes_to("cgz_ll")) == 1


def test_double_weight_in_the_draw_and_unchanged_draws_without_repeats():
    def old_draw(seed: str, pool: list[int], k: int) -> list[int]:  # the algorithm before the 异常名录
        rng, items = random.Random(seed), sorted(set(pool))
        for i in range(k):
            j = rng.randrange(i, len(items))
            items[i], items[j] = items[j], items[i]
        return items[:k]

    for seed in ("a1", "b2", "c3", "d4"):
        pool = list(range(1, 32))
        assert draw(seed, pool, 5, ["x", "y"], 1, unit_tickets=True)[0] == old_draw(seed, pool, 5)
        assert draw(seed, pool, 5, ["x", "y"], 1)[0] == old_draw(seed, pool, 5)
    first = Counter(draw(str(seed), [1, 1, 2, 3], 1, ["x"], 1, unit_tickets=True)[0][0] for seed in range(3000))
    assert 1400 < first[1] < 1600  # two tickets of four: about half of the draws
    assert 600 < first[2] < 900 and 600 < first[3] < 900
    assert sorted(draw("z", [1, 1, 2], 2, ["x"], 1, unit_tickets=True)[0]) == [1, 2]  # drawn once at most
    with pytest.raises(ValueError):
        draw("z", [1, 1, 2], 3, ["x"], 1, unit_tickets=True)
