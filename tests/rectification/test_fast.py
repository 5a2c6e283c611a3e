"""Fast tier: 交办 → the unit's list → 销号, and 转整改 through the problem-source registry."""

from __future__ import annotations

import re


async def test_assign_then_the_unit_sees_it_and_the_office_closes_it(fast):
    made = await fast.say("bb_ywy1", "交办 教育局 巡察 15个工作日 超编借调人员3名；要求：月底前清退")
    assert made.outcome == "ok", made.text
    number = re.search(r"ZG-\d{4}-\d{4}", made.text)
    assert number, made.text
    mine = await fast.say("jyj_ll", "整改")
    assert number.group() in mine.text
    other = await fast.say("czj_ll", f"问题 {number.group()}")
    assert other.outcome == "not_found" and "超编借调" not in other.text
    closed = await fast.say("bb_ywy1", f"销号 {number.group()} 已核实")
    assert closed.outcome == "ok" and "销号" in closed.text


async def test_turning_an_unknown_number_into_a_problem_explains_the_numbers(fast):
    answer = await fast.say("bb_ywy1", "转整改 ABC")
    assert "预警号" in answer.text and "反馈号" in answer.text and "走访记录号" in answer.text
    missing = await fast.say("bb_ywy1", "转整改 FK-2026-9999")
    assert missing.outcome == "not_found" and "FK-2026-9999" in missing.text


async def test_feedback_becomes_a_problem_and_its_closing_reaches_the_supervisor(fast):
    filed = await fast.say("jdy1", "反馈 教育局 借调人员长期不回原单位")
    number = re.search(r"FK-\d{4}-\d{4}", filed.text)
    assert number, filed.text
    turned = await fast.say("bb_ywy1", f"转整改 {number.group()} 10个工作日")
    assert turned.outcome == "ok", turned.text
    problem = re.search(r"ZG-\d{4}-\d{4}", turned.text)
    assert problem, turned.text
    await fast.say("bb_ywy1", f"销号 {problem.group()}")
    async with fast.services.db.read() as session:
        from sqlmodel import select

        from models import OutboxMessage
        texts = [m.payload for m in (await session.exec(select(OutboxMessage))).all()]
    assert any("已销号" in t and problem.group() in t for t in texts)
