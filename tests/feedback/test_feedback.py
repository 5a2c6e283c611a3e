"""监督员反馈 end to end: the guided dialogue (cancel, back, attachments, restart, two supervisors at once),
the fast path, office actions and the supervisor's notices, anonymity everywhere, statistics, meetings."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from models import Feedback, FeedbackAttachment, Problem
from tests.conftest import Chat, FakeClock, beijing


@pytest.fixture
async def app(make_bot):
    return await make_bot(clock=FakeClock(beijing("2026-11-23 10:00")))


@pytest.fixture
def chat(emulator, app) -> Chat:
    return Chat(emulator)


async def test_guided_feedback_with_back_attachment_and_confirm(chat, emulator, app):
    say = chat.say
    assert "1. 违反机构编制纪律" in (await say("jdy1", "反馈")).text
    assert "涉及哪个单位" in (await say("jdy1", "1")).text
    several = await say("jdy1", "县教育")  # loose typing
    assert "反馈内容" in several.text
    assert "上一步" in several.text
    assert "涉及哪个单位" in (await say("jdy1", "上一步")).text
    assert "反馈内容" in (await say("jdy1", "教育句")).text  # a typo still finds 教育局
    assert "第 1 段" in (await say("jdy1", "教育局借调5名教师到机关")).text
    assert "第 2 段" in (await say("jdy1", "已超过一年")).text
    emulator.files["img-1"] = b"photo bytes"
    photo = emulator.message("jdy1", "", msgtype="picture", content={"downloadCode": "img-1"})
    await emulator.deliver(photo)
    assert "已收到 1 个附件" in (await emulator.wait_reply(photo["msgId"])).text
    assert "显示您的姓名" in (await say("jdy1", "完成")).text
    summary = await say("jdy1", "2")
    assert "请确认" in summary.text and "示例县教育局" in summary.text and "附件：1 个" in summary.text
    receipt = await say("jdy1", "确认")
    assert "回执号 FK-2026-0001" in receipt.text
    [office] = await emulator.wait_push("bb_ywy1")
    assert "FK-2026-0001" in office.text and "陈静" in office.text and "借调5名教师" in office.text
    async with app.db.read() as s:
        fb = (await s.exec(select(Feedback))).one()
        files = (await s.exec(select(FeedbackAttachment))).all()
    assert fb.content == "教育局借调5名教师到机关\n已超过一年" and not fb.show_name and len(files) == 1


async def test_cancel_restart_and_two_supervisors_at_once(chat, emulator, app, make_bot):
    await chat.say("jdy1", "反馈")
    await chat.say("jdy2", "反馈")
    await asyncio.gather(chat.say("jdy1", "3"), chat.say("jdy2", "4"))
    await app.stop()  # restart in the middle
    await make_bot(clock=app.services.clock)
    await chat.say("jdy1", "跳过")
    await chat.say("jdy2", "卫健局")
    await chat.say("jdy1", "建议开展编制评估")
    assert "已取消" in (await chat.say("jdy2", "取消")).text
    await chat.say("jdy1", "完成")
    await chat.say("jdy1", "2")
    assert "回执号" in (await chat.say("jdy1", "确认")).text
    async with app.db.read() as s:
        rows = (await s.exec(select(Feedback))).all()
    assert [(f.category, f.unit_id, f.content) for f in rows] == [("意见建议", None, "建议开展编制评估")]


async def test_fast_path_office_actions_and_notices(chat, emulator, app):
    receipt = await chat.say("jdy1", "反馈 教育局 借调人员长期不归还")
    assert "FK-2026-0001" in receipt.text
    assert "已受理" in (await chat.say("bb_ywy1", "受理 FK-2026-0001")).text
    [accepted] = await emulator.wait_push("jdy1")
    assert "已受理" in accepted.text
    moved = await chat.say("bb_ywy1", "转整改 FK-2026-0001 10个工作日")
    assert "已交办 ZG-2026-0001" in moved.text
    pushes = await emulator.wait_push("jdy1", count=2)
    assert "ZG-2026-0001" in pushes[-1].text
    [unit_notice] = await emulator.wait_push("jyj_ll")
    assert "借调人员长期不归还" in unit_notice.text and "陈静" not in unit_notice.text  # anonymous
    for text in ("问题 ZG-2026-0001", "整改"):
        assert "陈静" not in (await chat.say("jyj_ll", text)).text
    await chat.say("jyj_ll", "整改 ZG-2026-0001 已归还")
    await chat.say("bb_ywy1", "销号 ZG-2026-0001")
    pushes = await emulator.wait_push("jdy1", count=3)
    assert "已销号" in pushes[-1].text
    mine = await chat.say("jdy1", "我的反馈")
    assert "FK-2026-0001（已转整改）" in mine.text
    stats = await chat.say("bb_ld1", "反馈统计")
    assert "听取意见建议 1 条，受理 1 条" in stats.text and "转为整改问题 1 个，已整改销号 1 个" in stats.text


async def test_answer_and_named_report(chat, emulator, app):
    await chat.say("jdy2", "反馈")
    await chat.say("jdy2", "2")
    await chat.say("jdy2", "卫健局")
    await chat.say("jdy2", "科室职责交叉")
    await chat.say("jdy2", "完成")
    await chat.say("jdy2", "1")  # the name may be shown
    await chat.say("jdy2", "确认")
    moved = await chat.say("bb_ywy1", "转整改 FK-2026-0001")
    assert "ZG-2026-0001" in moved.text
    [unit_notice] = await emulator.wait_push("wjj_ll")
    assert "徐磊" in unit_notice.text
    assert "无需答复" in (await chat.say("bb_ywy1", "答复 FK-2026-0001")).text
    assert "不能再转整改" in (await chat.say("bb_ywy1", "转整改 FK-2026-0001")).text
    async with app.db.read() as s:
        problem = (await s.exec(select(Problem))).one()
    assert problem.origin == "feedback:FK-2026-0001" and problem.source == "监督员反馈"


async def test_answering_gives_the_final_word(chat, emulator, app):
    assert "没有识别出涉及的单位" in (await chat.say("jdy1", "反馈 建议每季度公开空编情况")).text
    assert "建议每季度公开空编情况" in (await chat.say("jdy1", "跳过")).text
    await chat.say("jdy1", "确认")
    answered = await chat.say("bb_ywy2", "答复 FK-2026-0001 已采纳，下季度起公开")
    assert "已答复" in answered.text
    [notice] = await emulator.wait_push("jdy1")
    assert "已办结" in notice.text and "已采纳，下季度起公开" in notice.text
    assert "FK-2026-0001（已办结）" in (await chat.say("jdy1", "我的反馈")).text
    assert "没有使用“受理”的权限" in (await chat.say("jdy1", "受理 FK-2026-0001")).text


async def test_supervisor_meeting_notice_reminder_and_replies(chat, emulator, app):
    reply = await chat.say("bb_ywy1", "监督员会议 2026-12-21 县委大楼三楼会议室")
    assert "已通知 2 位监督员" in reply.text
    [notice] = await emulator.wait_push("jdy1")
    assert "2026-12-21" in notice.text and any("参加" in t for t, _ in notice.buttons)
    assert "参加" in (await chat.say("jdy1", "参加会议 1")).text
    assert "请假" in (await chat.say("jdy2", "请假")).text
    listing = await chat.say("bb_ywy1", "监督员会议")
    assert "参加 1 人，请假 1 人" in listing.text
    async with app.db.read() as s:
        from models import OutboxMessage

        reminder = (await s.exec(select(OutboxMessage).where(OutboxMessage.kind == "meeting.reminder"))).all()
    assert len(reminder) == 2 and reminder[0].due_at == beijing("2026-12-18 09:00")  # the working day before


async def test_several_matching_units_are_offered_as_numbered_choices(chat, app):
    await chat.say("jdy1", "反馈")
    await chat.say("jdy1", "4")
    choices = await chat.say("jdy1", "中心")
    assert "请回复序号选择" in choices.text and "1. " in choices.text
    picked = choices.text.split("2. ")[1].split("\n")[0].strip()
    assert "反馈内容" in (await chat.say("jdy1", "2")).text
    await chat.say("jdy1", "建议")
    await chat.say("jdy1", "完成")
    assert picked in (await chat.say("jdy1", "2")).text


async def test_duty_list_and_overdue_reminders(make_bot, emulator):
    from datetime import timedelta

    from jobs.feedback import remind_overdue_feedback

    clock = FakeClock(beijing("2026-11-02 10:00"))
    app = await make_bot(clock=clock, feedback={"duty_user_ids": ["bb_ywy3"]})
    chat = Chat(emulator)
    await chat.say("jdy1", "反馈 教育局 建议公开空编")
    [notice] = await emulator.wait_push("bb_ywy3")
    assert "FK-2026-0001" in notice.text and not emulator.pushes_to("bb_ywy1")  # only the duty list
    clock.set(beijing("2026-11-16 10:00"))  # 10 working days later: not yet
    assert await remind_overdue_feedback(app.services) == 0
    clock.set(beijing("2026-11-17 10:00") - timedelta(minutes=1))  # 11 working days
    assert await remind_overdue_feedback(app.services) == 1
    assert await remind_overdue_feedback(app.services) == 0  # once
