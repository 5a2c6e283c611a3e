"""预警 on hand-made 实名制 data: every rule, new → worse → resolved pushed once (one message per
recipient), scope per role, masking of 身份证号, and 转整改 linked both ways."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlmodel import delete, select

from jobs.warnings import scan_warnings
from models import Person, Problem, Unit, Warning
from tests.conftest import Chat, FakeClock, beijing

# masked as 3301**********1234; in markdown the stars are full-width so they cannot turn into bold
MASKED_1, MASKED_3 = "3301" + "＊" * 10 + "0011", "3301" + "＊" * 10 + "0033"
NOW = "2026-11-23 10:00"  # in the past: the outbox sends what is due by the real clock
ID1, ID2, ID3, ID4, ID5, ID6 = (f"33010219{y}0101{n}" for y, n in
                                (("64", "0011"), ("70", "0022"), ("80", "0033"), ("75", "0044"), ("66", "0055"),
                                 ("85", "0066")))


def person(unit_id: int, id_number: str, name: str, staffing: str, **kw) -> Person:
    return Person(id_number=id_number, name=name, sex=kw.pop("sex", "男"), birth_date=kw.pop("birth", date(1980, 1, 1)),
                  unit_id=unit_id, staffing_type=staffing, **kw)


async def units(db) -> dict[str, Unit]:
    async with db.read() as s:
        return {u.short_name: u for u in (await s.exec(select(Unit))).all()}


async def set_unit(db, short: str, **values) -> None:
    async with db.write() as s:
        unit = (await s.exec(select(Unit).where(Unit.short_name == short))).one()
        for k, v in values.items():
            setattr(unit, k, v)
        s.add(unit)


async def replace_people(db, unit_id: int, people: list[Person]) -> None:
    async with db.write() as s:
        await s.exec(delete(Person).where(Person.unit_id == unit_id))
        for p in people:
            s.add(p)


@pytest.fixture
async def app(make_bot):
    return await make_bot(clock=FakeClock(beijing(NOW)))


async def open_warnings(db) -> dict[tuple[str, str], Warning]:
    async with db.read() as s:
        rows = (await s.exec(select(Warning, Unit).join(Unit).where(Warning.resolved_on.is_(None)))).all()
    return {(u.short_name, f"{w.rule}:{w.subject}"): w for w, u in rows}


async def test_every_rule_on_hand_made_data(app):
    db, u = app.db, await units(app.db)
    edu, media, town = u["教育局"].id, u["融媒体中心"].id, u["城关镇"].id
    await set_unit(db, "教育局", est_admin=3, est_public=0, est_worker=1, posts_unit_deputy=1,
                   data_updated_on=date(2026, 11, 1))
    await replace_people(db, edu, [
        person(edu, ID1, "甲", "行政编制", retirement_month=date(2024, 2, 1)),  # 超龄未退
        person(edu, ID2, "乙", "行政编制", is_leader=True, leader_level="单位领导", leader_rank="副职"),
        person(edu, ID3, "丙", "行政编制", is_leader=True, leader_level="单位领导", leader_rank="副职"),  # 超职数
        person(edu, ID4, "丁", "事业编制", post="科员"),  # 机关 with 事业编制: 混岗
        person(edu, ID5, "戊", "工勤编制", is_leader=True, leader_level="内设机构领导", leader_rank="正职",
               retirement_month=date(2027, 3, 1)),  # 工勤 leader: 混岗; retiring in 4 months: 临退
    ])  # 行政编制 3 of 3: 满编
    await replace_people(db, media, [person(media, ID6, "己", "事业编制", retirement_month=date(2026, 9, 1),
                                            flexible_until=date(2027, 9, 30)),  # flexible delay: not overdue
                                     person(media, ID4, "丁", "事业编制")])  # 丁 in two units
    await replace_people(db, town, [person(town, "330102199001010077", "庚", "行政编制", work_unit_id=edu,
                                           work_elsewhere_since=date(2026, 1, 1),  # elsewhere 10 months
                                           imported_at=beijing("2026-06-01 10:00"))])
    await set_unit(db, "城关镇", data_updated_on=date(2026, 6, 1))
    summary = await scan_warnings(app.services)
    got = await open_warnings(db)
    assert {k: w.level for k, w in got.items()} == {
        ("教育局", "编制:行政编制"): 2,  # 3 of 3: 满编
        # 事业编制 1 of 0 is not reported as 超编: the 混岗 of 丁 is the same cause (issue 12.4)
        ("教育局", "编制:工勤编制"): 2,  # 1 of 1
        ("教育局", "超职数:单位领导副职"): 3,
        ("教育局", f"超龄未退:{ID1}"): 3,
        ("教育局", f"混岗:{ID4}"): 2,
        ("教育局", f"混岗:{ID5}"): 2,
        ("教育局", f"临退:{ID5}"): 1,
        ("教育局", f"一人多岗:{ID4}"): 2,
        ("融媒体中心", f"一人多岗:{ID4}"): 2,
        ("城关镇", "混岗:330102199001010077"): 2,
        ("城关镇", "数据陈旧:"): 1,
    }
    assert json.loads(got[("教育局", "编制:行政编制")].evidence) == {"核定": 3, "实有": 3}
    assert summary.new == 11 and summary.messages > 0
    note = json.loads(got[("教育局", f"混岗:{ID4}")].evidence)["另"]
    assert note == "同一原因：该单位事业编制核定 0、实有 1，不另报超编"


async def test_new_worse_resolved_each_pushed_once_in_one_message(app, emulator):
    db, u = app.db, await units(app.db)
    edu = u["教育局"].id
    await set_unit(db, "教育局", est_admin=2, data_updated_on=date(2026, 11, 1))
    await replace_people(db, edu, [person(edu, ID2, "乙", "行政编制"), person(edu, ID3, "丙", "行政编制",
                                                                             retirement_month=date(2027, 1, 1))])
    await scan_warnings(app.services)  # 满编 + 临退, for the unit in ONE message
    app.outbox.nudge()
    [first] = await emulator.wait_push("jyj_ll")
    assert "满编" in first.text and "临退" in first.text and MASKED_3 in first.text
    assert ID3 not in first.text
    await scan_warnings(app.services)  # nothing changed: nothing pushed
    await replace_people(db, edu, [person(edu, ID2, "乙", "行政编制"), person(edu, ID3, "丙", "行政编制"),
                                   person(edu, ID1, "甲", "行政编制")])
    await scan_warnings(app.services)  # 满编 → 超编 (worse); 临退 cleared
    app.outbox.nudge()
    pushes = await emulator.wait_push("jyj_ll", count=2)
    assert "加重" in pushes[-1].text and "超编" in pushes[-1].text and "已解除" in pushes[-1].text
    await scan_warnings(app.services)
    assert len(emulator.pushes_to("jyj_ll")) == 2
    office = await emulator.wait_push("bb_ywy1", count=2)
    assert "新增 2 条" in office[0].text


async def test_scope_masking_and_group_privacy(app, emulator):
    db, u = app.db, await units(app.db)
    edu, health = u["教育局"].id, u["卫健局"].id
    await replace_people(db, edu, [person(edu, ID1, "甲", "行政编制", retirement_month=date(2024, 2, 1))])
    await replace_people(db, health, [person(health, ID2, "乙", "行政编制", retirement_month=date(2024, 2, 1))])
    await scan_warnings(app.services)
    chat = Chat(emulator)
    mine = await chat.say("jyj_ll", "预警")
    assert MASKED_1 in mine.text and "0022" not in mine.text and ID1 not in mine.text
    in_group = await chat.say("jyj_ll", "预警", group="cid-work")
    assert "0011" not in in_group.text and "单聊" in in_group.text
    office = await chat.say("bb_ywy1", "预警")
    assert "0011" in office.text and "0022" in office.text
    assert "没有使用“转整改”的权限" in (await chat.say("jyj_ll", "转整改 YJ-2026-0001")).text
    est = await chat.say("jyj_ll", "编制 卫健局")  # a unit sees its own establishment only
    assert "示例县教育局" in est.text


async def test_warning_to_problem_linked_both_ways(app, emulator):
    db, u = app.db, await units(app.db)
    edu = u["教育局"].id
    await replace_people(db, edu, [person(edu, ID1, "甲", "行政编制", retirement_month=date(2024, 2, 1))])
    await scan_warnings(app.services)
    reply = await Chat(emulator).say("bb_ywy1", "转整改 YJ-2026-0001 10个工作日")
    assert "已交办 ZG-2026-0001" in reply.text
    async with db.read() as s:
        warning = (await s.exec(select(Warning))).one()
        problem = (await s.exec(select(Problem))).one()
    assert warning.problem_id == problem.id and problem.origin == "warning:YJ-2026-0001" and problem.source == "预警"
    again = await Chat(emulator).say("bb_ywy1", "转整改 YJ-2026-0001")
    assert "已转为整改问题 ZG-2026-0001" in again.text


async def test_weekly_digest_lists_severe_warnings_and_retirements(app, emulator):
    from jobs.digest import weekly_digest

    db, u = app.db, await units(app.db)
    edu = u["教育局"].id
    await replace_people(db, edu, [person(edu, ID1, "甲", "行政编制", retirement_month=date(2024, 2, 1)),
                                   person(edu, ID3, "丙", "行政编制", retirement_month=date(2027, 2, 1))])
    await scan_warnings(app.services)
    assert await weekly_digest(app.services) == 2  # both office leaders
    app.outbox.nudge()
    [digest] = [p for p in await emulator.wait_push("bb_ld1") if "每周简报" in p.text]
    assert "严重预警 1 条" in digest.text and "临退 1 人" in digest.text and "2027-02 教育局 丙" in digest.text
    assert await weekly_digest(app.services) == 0  # once a week
