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


async def test_accept_answer_and_stats_use_their_templates(fast):
    filed = await fast.say("jdy1", "反馈 教育局 借调人员长期不回原单位")
    assert filed.text.startswith("已收到您的反馈（涉及单位：") and "回执号 FK-" in filed.text
    number = re.search(r"FK-\d{4}-\d{4}", filed.text).group()
    assert (await fast.say("bb_ywy1", "受理 FK-2099-0001")).text.upper() == "没有找到反馈“FK-2099-0001”。"
    assert (await fast.say("bb_ywy1", f"受理 {number}")).text == f"已受理 {number}，已告知监督员。"
    again = await fast.say("bb_ywy1", f"受理 {number}")
    assert again.text == f"{number} 目前是“已受理”，无需再受理。"
    assert (await fast.say("bb_ywy1", f"答复 {number} 已约谈并整改")).text == f"已答复 {number}，已告知监督员。"
    stats = await fast.say("bb_ywy1", "反馈统计")
    assert stats.text.splitlines()[0] == "#### 监督员反馈统计 · 本年"
    assert "听取意见建议 1 条，受理 1 条，已办结答复 1 条" in stats.text


async def test_group_feedback_is_not_filed(fast):
    answer = await fast.say("jdy1", "反馈 教育局 某某问题", group=True)
    assert answer.outcome == "redirected" and answer.text.startswith("反馈请在与我的单聊中发送")
    mine = await fast.say("jdy1", "我的反馈")
    assert "FK-" not in mine.text


async def test_meeting_announce_reply_and_list(fast):
    from sqlmodel import select

    from models import AuditEvent

    announced = await fast.say("bb_ywy1", "监督员会议 2026-12-21 县委大楼三楼会议室")
    assert announced.text.startswith("已通知 ") and "2026-12-21 县委大楼三楼会议室（会议号 " in announced.text
    assert (await fast.say("jdy1", "参加会议")).text == "已记下：2026-12-21 的监督员会议您参加。"
    listed = await fast.say("bb_ywy1", "监督员会议")
    assert listed.text.splitlines()[0] == "#### 监督员会议"
    assert "2026-12-21 县委大楼三楼会议室：参加 1 人，请假 0 人" in listed.text
    async with fast.services.db.read() as s:
        actions = {a.action for a in (await s.exec(select(AuditEvent))).all()}
    assert {"meeting.通知", "meeting.回复"} <= actions
