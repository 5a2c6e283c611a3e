"""Fast tier: 预警 and 编制 are scoped to the sender's unit."""

from __future__ import annotations


async def test_unit_sees_its_own_establishment(fast):
    answer = await fast.say("jyj_ll", "编制")
    assert answer.outcome == "ok" and "教育局" in answer.text


async def test_office_needs_a_unit_for_establishment(fast):
    answer = await fast.say("bb_ywy1", "编制")
    assert answer.outcome == "invalid" and "编制 教育局" in answer.text


async def test_unit_warnings_answer(fast):
    answer = await fast.say("jyj_ll", "预警")
    assert answer.outcome == "ok"


async def test_unknown_unit_is_named_in_the_answer(fast):
    answer = await fast.say("bb_ywy1", "预警 火星局")
    assert answer.outcome == "not_found" and answer.text == "没有找到单位“火星局”。"
    answer = await fast.say("bb_ywy1", "编制 火星局")
    assert answer.outcome == "not_found" and answer.text == "没有找到单位“火星局”。"


async def test_warning_to_problem_links_and_audits(fast):
    from datetime import date

    from sqlmodel import select

    from models import AuditEvent, Unit, Warning

    missing = await fast.say("bb_ywy1", "转整改 YJ-2026-9999")
    assert missing.outcome == "not_found" and missing.text == "没有找到预警“YJ-2026-9999”。"
    number = "YJ-2026-0001"
    async with fast.services.db.write() as s:
        unit = (await s.exec(select(Unit).where(Unit.name.contains("教育局")))).first()
        s.add(Warning(number=number, unit_id=unit.id, rule="编制", subject="行政编制", level=3,
                      evidence='{"核定": 10, "实有": 12}', first_seen=date(2026, 11, 20), last_seen=date(2026, 11, 20),
                      notified_level=3))
    moved = await fast.say("bb_ywy1", f"转整改 {number} 10个工作日")
    assert moved.outcome == "ok", moved.text
    async with fast.services.db.read() as s:
        warning = (await s.exec(select(Warning).where(Warning.number == number))).one()
        audited = (await s.exec(select(AuditEvent).where(AuditEvent.action == "warning.转整改"))).all()
    assert warning.problem_id is not None
    assert [a.entity_id for a in audited] == [number]
    again = await fast.say("bb_ywy1", f"转整改 {number}")
    assert again.text.startswith(f"{number} 已转为整改问题 ZG-"), again.text
