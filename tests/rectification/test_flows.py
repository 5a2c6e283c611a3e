"""整改 end to end through the SDK and the emulator: 交办 → 整改报告 (with a photo) → 退回 → 申请延期 →
同意延期 → 销号, every step in the history; the guided 交办 dialogue; unit isolation; 台账."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlmodel import select

from models import Problem, ProblemAttachment
from tests.conftest import Chat, FakeClock, beijing


@pytest.fixture
async def office_bot(make_bot):
    return await make_bot(clock=FakeClock(beijing("2026-11-20 10:00")))  # a Friday morning


@pytest.fixture
def chat(emulator, office_bot) -> Chat:
    return Chat(emulator)


async def assign(chat, text="交办 教育局 巡察 10个工作日 超编借调人员3名；要求：一个月内清退") -> str:
    reply = await chat.say("bb_ywy1", text)
    m = re.search(r"ZG-\d{4}-\d{4}", reply.text)
    assert m, reply.text
    return m.group(0)


async def test_full_life_of_a_problem(emulator, office_bot, chat):
    number = await assign(chat)
    assert number == "ZG-2026-0001"
    for user in ("jyj_ll", "jyj_fzr"):  # the unit's contact and leader are told at once
        [push] = await emulator.wait_push(user)
        assert number in push.text and "2026-12-04" in push.text and "一个月内清退" in push.text

    mine = await chat.say("jyj_ll", "整改")
    assert "🟢" in mine.text and number in mine.text and "还剩 10 个工作日" in mine.text

    reported = await chat.say("jyj_ll", f"整改 {number} 已清退借调人员2名")
    assert "已提交" in reported.text
    [office] = await emulator.wait_push("bb_ywy2")
    assert "已清退借调人员2名" in office.text and any("销号" in t for t, _ in office.buttons)

    emulator.files["photo-1"] = b"\x89PNG fake photo"
    photo = emulator.message("jyj_ll", "", msgtype="picture", content={"downloadCode": "photo-1"})
    await emulator.deliver(photo)
    assert "共 1 个附件" in (await emulator.wait_reply(photo["msgId"])).text

    returned = await chat.say("bb_ywy1", f"退回 {number} 还有1名未清退")
    assert "已退回" in returned.text
    pushes = await emulator.wait_push("jyj_ll", count=2)
    assert "被退回" in pushes[-1].text and "还有1名未清退" in pushes[-1].text

    asked = await chat.say("jyj_ll", f"申请延期 {number} 2026-12-31 需等编委会研究")
    assert "已提交" in asked.text
    await emulator.wait_push("bb_ywy1", count=2)
    approved = await chat.say("bb_ywy2", f"同意延期 {number}")
    assert "已同意" in approved.text
    pushes = await emulator.wait_push("jyj_ll", count=3)
    assert "2026-12-31" in pushes[-1].text

    await chat.say("jyj_ll", f"整改 {number} 已全部清退，附文件")
    closed = await chat.say("bb_ywy1", f"销号 {number} 整改到位")
    assert "已销号" in closed.text
    pushes = await emulator.wait_push("jyj_ll", count=4)
    assert "已销号" in pushes[-1].text

    detail = await chat.say("jyj_ll", f"问题 {number}")
    steps = re.findall(r"^- \S+ \S+ \S+ ([^：\n]+)", detail.text.split("全程记录")[1], re.M)
    assert steps == ["交办", "整改报告", "退回", "申请延期", "同意延期", "整改报告", "销号"]
    assert "李明" in detail.text and "王芳" in detail.text and "附件：1 个" in detail.text
    async with office_bot.db.read() as s:
        problem = (await s.exec(select(Problem))).one()
        files = (await s.exec(select(ProblemAttachment))).all()
    assert problem.status == "已销号" and problem.deadline.isoformat() == "2026-12-31"
    assert len(files) == 1 and files[0].size == len(b"\x89PNG fake photo")


async def test_a_unit_never_sees_another_units_problem(emulator, office_bot, chat):
    number = await assign(chat)
    for text in (f"问题 {number}", f"整改 {number} 我们也整改了", f"申请延期 {number} 2026-12-31 理由"):
        reply = await chat.say("wjj_ll", text)  # 卫健局's contact
        assert "没有找到问题" in reply.text, text
    assert "没有未销号" in (await chat.say("wjj_ll", "整改")).text
    unknown = await chat.say("wjj_ll", "问题 ZG-2026-0099")
    assert unknown.text.replace("ZG-2026-0099", number) == (await chat.say("wjj_ll", f"问题 {number}")).text
    assert "没有使用“销号”的权限" in (await chat.say("jyj_ll", f"销号 {number}")).text


async def test_guided_assignment_dialogue_with_back_and_confirm(emulator, office_bot, chat):
    say = chat.say
    assert "单位" in (await say("bb_ywy1", "交办")).text
    assert "1. 巡察" in (await say("bb_ywy1", "县卫健")).text
    assert "描述" in (await say("bb_ywy1", "2")).text  # 审计
    assert "要求" in (await say("bb_ywy1", "混岗使用工勤人员")).text
    assert "期限" in (await say("bb_ywy1", "跳过")).text
    bad = await say("bb_ywy1", "下个月")
    assert "看不懂" in bad.text and "期限" in bad.text
    summary = await say("bb_ywy1", "15个工作日")
    assert "请确认" in summary.text and "示例县卫生健康局" in summary.text and "审计" in summary.text
    assert "期限" in (await say("bb_ywy1", "上一步")).text
    assert "2026-12-31" in (await say("bb_ywy1", "2026-12-31")).text
    created = await say("bb_ywy1", "确认")
    assert "已交办 ZG-2026-0001" in created.text
    [push] = await emulator.wait_push("wjj_ll")
    assert "混岗使用工勤人员" in push.text


async def test_dialogue_cancel_and_isolation_between_chats(emulator, office_bot, chat):
    await chat.say("bb_ywy1", "交办")
    group = await chat.say("bb_ywy1", "我是谁", group="cid-office")  # the group chat is not in the dialogue
    assert "李明" in group.text
    other = await chat.say("bb_ywy2", "我是谁")  # nor is another person
    assert "何琳" in other.text
    assert "已取消" in (await chat.say("bb_ywy1", "取消")).text
    assert "何琳" not in (await chat.say("bb_ywy1", "我是谁")).text


async def test_one_line_assignment_errors_are_explained(office_bot, chat):
    assert "用法" in (await chat.say("bb_ywy1", "交办 教育局 巡察")).text
    assert "没有找到单位" in (await chat.say("bb_ywy1", "交办 火星局 巡察 10 描述")).text
    assert "问题来源应为" in (await chat.say("bb_ywy1", "交办 教育局 路过 10 描述")).text
    assert "看不懂" in (await chat.say("bb_ywy1", "交办 教育局 巡察 明年 描述")).text


async def test_ledger_filters_by_light_and_unit(office_bot, chat):
    await assign(chat)
    await assign(chat, "交办 卫健局 审计 3个工作日 工勤人员担任中层")
    all_rows = await chat.say("bb_ywy1", "台账")
    assert "ZG-2026-0001" in all_rows.text and "ZG-2026-0002" in all_rows.text
    yellow = await chat.say("bb_ywy1", "台账 黄灯")
    assert "ZG-2026-0002" in yellow.text and "ZG-2026-0001" not in yellow.text
    by_unit = await chat.say("bb_ywy1", "台账 教育局")
    assert "ZG-2026-0001" in by_unit.text and "ZG-2026-0002" not in by_unit.text
    assert "没有使用“台账”的权限" in (await chat.say("jyj_ll", "台账")).text


async def test_export_ledger_sends_an_xlsx_file(emulator, office_bot, chat):
    from io import BytesIO

    from openpyxl import load_workbook

    await assign(chat)
    await assign(chat, "交办 卫健局 审计 3个工作日 工勤人员担任中层")
    reply = await chat.say("bb_ld1", "导出台账")
    assert "2 个问题" in reply.text
    [push] = await emulator.wait_push("bb_ld1")
    assert push.msg_key == "sampleFile" and push.param["fileName"].endswith(".xlsx")
    _name, data = emulator.media[push.param["mediaId"]]
    book = load_workbook(BytesIO(data))
    assert book.sheetnames == ["问题台账", "按单位汇总"]
    numbers = [c.value for c in book["问题台账"]["A"] if c.value and str(c.value).startswith("ZG-")]
    assert numbers == ["ZG-2026-0001", "ZG-2026-0002"]


async def test_a_silent_dialogue_expires_with_a_note_and_survives_a_restart(emulator, office_bot, chat, make_bot):
    from datetime import timedelta

    from jobs.dialogues import expire_dialogues

    await chat.say("bb_ywy1", "交办")
    await chat.say("bb_ywy1", "教育局")
    await office_bot.stop()  # a restart in the middle: the state is in the database
    second = await make_bot(clock=office_bot.services.clock)
    assert "1. 巡察" not in (await chat.say("bb_ywy1", "1")).text  # answered the 来源 step, asks 描述
    clock = second.services.clock
    clock.set(clock() + timedelta(minutes=31))
    assert await expire_dialogues(second.services) == 1
    [note] = await emulator.wait_push("bb_ywy1")
    assert "已自动结束" in note.text
    assert "李明" in (await chat.say("bb_ywy1", "我是谁")).text


async def test_a_deadline_past_the_calendar_data_is_provisional_and_admins_are_told_once(emulator, office_bot, chat):
    first = await chat.say("bb_ywy1", "交办 教育局 巡察 2027-01-20 年底前清理借调")
    assert "（暂定）" in first.text
    await chat.say("bb_ywy1", "交办 卫健局 巡察 30个工作日 清理混岗")  # also reaches into 2027
    [notice] = await emulator.wait_push("admin1")
    assert "2027 年的法定节假日安排尚未载入" in notice.text and "import holidays" in notice.text
    await asyncio.sleep(0.3)
    assert len(emulator.pushes_to("admin1")) == 1


async def test_deadlines_on_rest_days_and_working_days_from_a_sunday(make_bot, emulator):
    """Issue 12.8 and 10.9 through the chat: a typed date on a rest day is shown with the day it moves
    to and is due then; "15个工作日" sent on a Sunday leaves exactly 15 working days."""
    clock = FakeClock(beijing("2026-11-29 10:00"))  # a Sunday
    await make_bot(clock=clock)
    chat = Chat(emulator)
    reply = await chat.say("bb_ywy1", "交办 教育局 巡察 15个工作日 超编借调人员3名")
    assert "2026-12-18" in reply.text and "不含今天还剩 15 个工作日" in reply.text, reply.text
    reply = await chat.say("bb_ywy1", "交办 卫健局 巡察 2026-12-05 超编借调人员1名")  # a Saturday
    assert "2026-12-05（节假日顺延至 2026-12-07）" in reply.text, reply.text
    listing = await chat.say("wjj_ll", "整改")
    assert "2026-12-05（节假日顺延至 2026-12-07）" in listing.text and "不含今天还剩 6 个工作日" in listing.text


async def test_rest_day_deadlines_from_extensions_and_imports(make_bot, emulator, tmp_path):
    """Issue 12.8: the same rule for an extension and an imported deadline."""
    from bot.importing import import_file

    app = await make_bot(clock=FakeClock(beijing("2026-11-20 10:00")))
    chat = Chat(emulator)
    number = await assign(chat)
    asked = await chat.say("jyj_ll", f"申请延期 {number} 2026-12-26 需等编委会研究")  # a Saturday
    assert "已提交" in asked.text
    [office] = [p for p in await emulator.wait_push("bb_ywy1") if "延期" in p.text]
    assert "2026-12-26（节假日顺延至 2026-12-28）" in office.text
    await chat.say("bb_ywy2", f"同意延期 {number}")
    pushes = await emulator.wait_push("jyj_ll", count=2)
    assert "2026-12-26（节假日顺延至 2026-12-28）" in pushes[-1].text
    path = tmp_path / "p.csv"
    path.write_text("问题编号,所属单位,问题来源,问题描述,交办日期,整改期限\n"
                    ",卫健局,审计,导入的问题,2026-11-02,2026-11-22\n", encoding="utf-8")  # a Sunday
    await import_file(app.db, "problems", path)
    listing = await chat.say("wjj_ll", "整改")
    assert "2026-11-22（节假日顺延至 2026-11-23）" in listing.text and "不含今天还剩 1 个工作日" in listing.text


async def test_the_office_own_ledger_numbers_are_kept_and_understood(emulator, office_bot, chat, tmp_path):
    """An imported ledger keeps its own numbers (QX-2026-001); only a blank number gets a ZG- one; every
    chat command that takes a problem number accepts the office's numbers."""
    from bot.importing import import_file
    from tests.rectification.test_import_problems import write_csv

    rows = [["  QX-2026-001 ", "教育局", "巡察", "超编借调人员3名", "", "2026-11-02", "", "20", ""],
            ["县审〔2026〕7号-1", "教育局", "审计", "临时聘用人员未备案", "", "2026-11-02", "", "20", ""],
            ["", "教育局", "巡察", "没有编号的一条", "", "2026-11-02", "", "20", ""]]
    await import_file(office_bot.db, "problems", write_csv(tmp_path / "ledger.csv", rows))
    async with office_bot.db.read() as s:
        numbers = sorted(p.number for p in (await s.exec(select(Problem))).all())
    assert numbers == ["QX-2026-001", "ZG-2026-0001", "县审〔2026〕7号-1"]
    assert "超编借调人员3名" in (await chat.say("bb_ywy1", "问题 QX-2026-001")).text
    assert "超编借调人员3名" in (await chat.say("jyj_ll", "问题 qx-2026-001")).text
    assert "临时聘用人员未备案" in (await chat.say("bb_ywy1", "问题 县审〔2026〕7号-1")).text
    reported = await chat.say("jyj_ll", "整改 QX-2026-001 已清退借调人员3名")
    assert "QX-2026-001" in reported.text and "没有找到" not in reported.text
    assert "已销号" in (await chat.say("bb_ywy1", "销号 QX-2026-001 整改到位")).text
    assert "没有找到" in (await chat.say("wjj_ll", "问题 QX-2026-001")).text  # another unit's problem
    made = await assign(chat)  # 交办 in chat still numbers ZG-年-序号, after the generated one
    assert made == "ZG-2026-0002"
