"""Fast tier: a supervisor's report stays anonymous to the unit by default."""

from __future__ import annotations

import re


async def test_quick_feedback_is_filed_and_listed_for_the_office(fast):
    filed = await fast.say("jdy1", "反馈 教育局 借调人员长期不回原单位")
    number = re.search(r"FK-\d{4}-\d{4}", filed.text)
    assert number, filed.text
    ledger = await fast.say("bb_ywy1", "反馈台账")
    assert number.group() in ledger.text and "借调人员" in ledger.text
    mine = await fast.say("jdy1", "我的反馈")
    assert number.group() in mine.text


async def test_a_unit_cannot_read_the_feedback_ledger(fast):
    answer = await fast.say("jyj_ll", "反馈台账")
    assert answer.outcome == "denied"
