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
