"""Fast tier: 审批 commands answer without data, and a unit never sees another unit's item."""

from __future__ import annotations


async def test_progress_of_an_unknown_number_is_not_found(fast):
    answer = await fast.say("jyj_ll", "进度 SP-2026-9999")
    assert answer.outcome == "not_found"


async def test_office_statistics_answer_on_an_empty_county(fast):
    answer = await fast.say("bb_ld1", "办结率")
    assert answer.outcome == "ok" and "办结" in answer.text
