"""Fast tier: 走访 commands answer helpfully before any plan exists."""

from __future__ import annotations


async def test_no_plan_yet_says_how_to_make_one(fast):
    answer = await fast.say("bb_ywy1", "走访计划")
    assert "生成走访计划" in answer.text


async def test_draw_needs_numbers(fast):
    answer = await fast.say("bb_ywy1", "随机抽查")
    assert answer.outcome in ("invalid", "ok")
    assert "随机抽查" in answer.text
