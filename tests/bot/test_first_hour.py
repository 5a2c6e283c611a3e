"""What an office hits in its first hour (issue 10): nothing typed is lost, nothing misleads. End to end
through the emulator: one-line 反馈 with full-width spaces or no unit, 上一步 keeping what was written,
the flood limit, 反馈 in a group, refusals that say who may, buttons that need more input, separators
and variants of command words, a meeting on a rest day, and numbers from chat (issue 13 item 2)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from sqlmodel import select

from bot.config import BotConfig
from models import Feedback, Meeting, Problem, RandomDraw
from tests.conftest import Chat, FakeClock, beijing


@pytest.fixture
async def app(make_bot):
    return await make_bot(clock=FakeClock(beijing("2026-11-23 10:00")))  # a Monday


@pytest.fixture
def chat(emulator, app) -> Chat:
    return Chat(emulator)


async def feedback_rows(app) -> list[Feedback]:
    async with app.db.read() as s:
        return list((await s.exec(select(Feedback).order_by(Feedback.id))).all())


def press(sent, title: str) -> str:
    """The text a button makes the user's client send."""
    url = next(u for t, u in sent.buttons if t == title)
    return unquote(url.split("content=", 1)[1])


# --- item 1: one-line 反馈 -------------------------------------------------------------------------

async def test_one_line_feedback_with_full_width_spaces_keeps_unit_and_content(chat, emulator, app):
    receipt = await chat.say("jdy1", "反馈　教育局　借调教师长期不归还")
    assert "回执号 FK-2026-0001" in receipt.text and "涉及单位：示例县教育局" in receipt.text
    [office] = await emulator.wait_push("bb_ywy1")
    assert "示例县教育局" in office.text and "借调教师长期不归还" in office.text and "未指定" not in office.text
    [fb] = await feedback_rows(app)
    assert fb.content == "借调教师长期不归还" and fb.unit_id is not None


async def test_one_line_feedback_without_a_unit_keeps_the_whole_text(chat, emulator, app):
    first = await chat.say("jdy1", "反馈 部分单位内设机构职责交叉")
    assert "没有识别出涉及的单位" in first.text and "涉及哪个单位" in first.text
    assert "回执号" not in first.text and not await feedback_rows(app)  # nothing confirmed yet
    summary = await chat.say("jdy1", "跳过")
    assert "请确认" in summary.text and "部分单位内设机构职责交叉" in summary.text
    assert "回执号 FK-2026-0001" in (await chat.say("jdy1", "确认")).text
    [office] = await emulator.wait_push("bb_ywy1")
    assert "部分单位内设机构职责交叉" in office.text
    [fb] = await feedback_rows(app)
    assert fb.content == "部分单位内设机构职责交叉" and fb.unit_id is None


async def test_one_line_feedback_naming_several_units_offers_numbered_choices(chat, app):
    first = await chat.say("jdy1", "反馈 中心 人员长期借调")
    assert "请回复序号选择" in first.text and "1. " in first.text
    picked = first.text.split("2. ")[1].split("\n")[0].strip()
    summary = await chat.say("jdy1", "2")
    assert picked in summary.text and "人员长期借调" in summary.text


async def test_a_unit_without_content_is_never_confirmed(chat, app):
    reply = await chat.say("jdy1", "反馈 教育局")
    assert "回执号" not in reply.text and "反馈内容" in reply.text and "示例县教育局" in reply.text
    assert not await feedback_rows(app)
    await chat.say("jdy1", "借调教师未归还")
    await chat.say("jdy1", "完成")
    await chat.say("jdy1", "2")
    assert "回执号" in (await chat.say("jdy1", "确认")).text
    [fb] = await feedback_rows(app)
    assert fb.content == "借调教师未归还"


# --- item 2: 上一步 keeps what was written --------------------------------------------------------

async def test_back_in_guided_feedback_keeps_and_shows_the_content(chat, app):
    say = chat.say
    await say("jdy1", "反馈")
    await say("jdy1", "1")
    await say("jdy1", "教育局")
    await say("jdy1", "借调5名教师")
    assert "显示您的姓名" in (await say("jdy1", "完成")).text
    back = await say("jdy1", "上一步")
    assert "已记下的内容" in back.text and "借调5名教师" in back.text
    refused = await say("jdy1", "不显示")  # meant for the next step: never content
    assert "没有记为内容" in refused.text
    assert "一条命令" in (await say("jdy1", "我的反馈")).text  # a bare command is not content either
    assert "一条命令" in (await say("jdy1", "参加会议 1")).text  # nor a button's text
    assert "第 2 段" in (await say("jdy1", "已超过一年")).text
    assert "显示您的姓名" in (await say("jdy1", "确认")).text  # 确认 ends the content step
    await say("jdy1", "2")
    await say("jdy1", "确认")
    [fb] = await feedback_rows(app)
    assert fb.content == "借调5名教师\n已超过一年"


async def test_back_to_the_unit_shows_it_by_name_and_skipping_clears_it(chat, app):
    for text in ("反馈", "1", "教育局", "内容一", "完成"):
        await chat.say("jdy1", text)
    await chat.say("jdy1", "上一步")
    back = await chat.say("jdy1", "上一步")
    assert "原来填写的是：示例县教育局" in back.text
    await chat.say("jdy1", "跳过")
    await chat.say("jdy1", "完成")
    summary = await chat.say("jdy1", "2")
    assert "涉及单位：（未指定）" in summary.text and "内容一" in summary.text


async def test_back_in_guided_feedback_can_replace_the_content(chat, app):
    for text in ("反馈", "2", "跳过", "旧的写法", "完成", "上一步", "重写", "新的写法", "完成", "2", "确认"):
        await chat.say("jdy1", text)
    [fb] = await feedback_rows(app)
    assert fb.content == "新的写法"


async def test_back_in_guided_assign_keeps_answers_and_refuses_control_words(chat, app):
    say = chat.say
    await say("bb_ywy1", "交办")
    await say("bb_ywy1", "教育局")
    await say("bb_ywy1", "巡察")
    assert "操作用语" in (await say("bb_ywy1", "确认")).text  # not taken as the description
    await say("bb_ywy1", "超编借调人员3名")
    await say("bb_ywy1", "一个月内清退")
    back = await say("bb_ywy1", "上一步")
    assert "原来填写的是：一个月内清退" in back.text
    assert "整改期限" in (await say("bb_ywy1", "保留")).text
    await say("bb_ywy1", "15个工作日")
    back = await say("bb_ywy1", "上一步")
    assert "整改期限" in back.text and "原来填写的是：2026-12-14" in back.text
    assert "请确认" in (await say("bb_ywy1", "20个工作日")).text
    done = await say("bb_ywy1", "确认")
    assert "已交办 ZG-2026-0001" in done.text
    async with app.db.read() as s:
        problem = (await s.exec(select(Problem))).one()
    assert problem.description == "超编借调人员3名" and problem.requirement == "一个月内清退"


# --- item 3: the flood limit ---------------------------------------------------------------------

async def test_a_guided_assign_at_typing_speed_is_never_dropped(make_bot, emulator):
    defaults = BotConfig()
    await make_bot(bot={"rate_limit_count": defaults.rate_limit_count,
                        "rate_limit_seconds": defaults.rate_limit_seconds})
    chat = Chat(emulator)
    answers = ("交办", "教育局", "巡察", "超编借调人员3名", "跳过", "15个工作日", "确认")
    for n in range(4):  # 28 messages within a minute
        for text in answers:
            reply = await chat.say("bb_ywy1", text)
            assert "太快" not in reply.text, (n, text)
        assert f"ZG-2026-000{n + 1}" in reply.text


async def test_a_refused_message_is_named_so_it_can_be_resent(make_bot, emulator):
    await make_bot(bot={"rate_limit_count": 3, "rate_limit_seconds": 60})
    chat = Chat(emulator)
    for _ in range(3):
        await chat.say("bb_ywy1", "帮助")
    refused = await chat.say("bb_ywy1", "交办 教育局 巡察 15个工作日 超编借调人员3名")
    assert "太快" in refused.text and "交办 教育局 巡察" in refused.text and "重新发送" in refused.text


# --- item 4: 反馈 in a group ---------------------------------------------------------------------

async def test_feedback_in_a_group_is_moved_to_single_chat(chat, emulator, app):
    reply = await chat.say("jdy1", "反馈 教育局 借调教师长期不归还", group="cid-group-1")
    assert reply.to == "cid-group-1" and "单聊" in reply.text and "没有登记" in reply.text
    assert "借调教师" not in reply.text
    [private] = await emulator.wait_push("jdy1")  # the conversation moves to single chat, the text kept there
    assert "群里的反馈不会登记" in private.text and "教育局 借调教师长期不归还" in private.text
    guided = await chat.say("jdy1", "反馈", group="cid-group-1")
    assert "单聊" in guided.text and "反馈类别" not in guided.text
    assert "单聊" in (await chat.say("jdy1", "我的反馈", group="cid-group-1")).text
    assert not await feedback_rows(app) and not emulator.pushes_to("bb_ywy1")
    assert "反馈类别" not in (await chat.say("jdy1", "1", group="cid-group-1")).text  # no dialogue in the group
    await chat.say("jdy1", "反馈 教育局 借调教师长期不归还")  # in single chat: filed
    listing = await chat.say("bb_ywy1", "反馈台账", group="cid-group-1")
    assert "单聊" in listing.text and "借调教师" not in listing.text


# --- item 8: refusals say who may ----------------------------------------------------------------

async def test_a_refusal_says_who_may_and_suggests_only_related_commands(chat):
    reply = await chat.say("jyj_ll", "销号 ZG-2026-0001")
    assert "销号由编办业务员办理" in reply.text
    assert "我是谁" not in reply.text and "整改" in reply.text
    supervisor = await chat.say("jdy1", "台账")
    assert "台账由编办业务员、编办领导办理" in supervisor.text and "我是谁" not in supervisor.text


# --- item 11: buttons that need more input --------------------------------------------------------

async def test_the_answer_button_asks_for_the_answer(chat, emulator, app):
    await chat.say("jdy1", "反馈 教育局 借调教师长期不归还")
    [office] = await emulator.wait_push("bb_ywy1")
    asked = await chat.say("bb_ywy1", press(office, "答复"))
    assert "用法" not in asked.text and "请写下对 FK-2026-0001" in asked.text
    done = await chat.say("bb_ywy1", "已约谈教育局，教师已归还")
    assert "已答复 FK-2026-0001" in done.text
    [notice] = await emulator.wait_push("jdy1")
    assert "已约谈教育局，教师已归还" in notice.text


async def test_the_extension_button_asks_for_date_and_reason(chat, emulator, app):
    await chat.say("bb_ywy1", "交办 教育局 巡察 15个工作日 超编借调人员3名")
    [notice] = await emulator.wait_push("jyj_ll")
    asked = await chat.say("jyj_ll", press(notice, "申请延期"))
    assert "用法" not in asked.text and "新的期限和理由" in asked.text
    assert "看不懂" in (await chat.say("jyj_ll", "下个月")).text
    done = await chat.say("jyj_ll", "2027-01-29 需等待编委会研究")
    assert "已提交 ZG-2026-0001 的延期申请" in done.text


# --- item 13: separators, variants, a lone mention ------------------------------------------------

async def test_colon_and_comma_after_a_command_word_are_separators(chat, app):
    from tests.approvals.test_approvals import item, seed, unit_id

    await seed(app, [item("SP-2026-0014", await unit_id(app.db, "教育局"), "用编核准", "2026-11-20 09:00")])
    for text in ("进度：SP-2026-0014", "进度:SP-2026-0014", "进度，SP-2026-0014"):
        reply = await chat.say("bb_ywy1", text)
        assert "SP-2026-0014" in reply.text and "没有找到" not in reply.text, text
    red = await chat.say("bb_ywy1", "台账，红灯")
    assert "红灯" in red.text and "没有找到单位" not in red.text


async def test_common_variants_and_a_lone_mention(chat):
    assert "整改台账" in (await chat.say("bb_ywy1", "台帐")).text
    mention = await chat.say("bb_ywy1", "@编办监督助手", group="cid-group-1")
    assert "没有听懂" not in mention.text and "您可以使用" in mention.text


# --- item 14: a meeting on a rest day -------------------------------------------------------------

async def test_a_meeting_on_a_rest_day_is_confirmed_first(chat, emulator, app):
    warned = await chat.say("bb_ywy1", "监督员会议 2026-12-20 县委大楼三楼会议室")
    assert "星期日" in warned.text and "休息日" in warned.text and "确认" in warned.text
    other = await chat.say("bb_ywy1", "台账")  # another message meanwhile is named, not silently swallowed
    assert "还在等您确认" in other.text and "“台账”没有处理" in other.text
    async with app.db.read() as s:
        assert not (await s.exec(select(Meeting))).all()
    assert "已通知 2 位监督员" in (await chat.say("bb_ywy1", "确认")).text
    plain = await chat.say("bb_ywy1", "监督员会议 2026-12-21 县委大楼三楼会议室")  # a Monday: no question
    assert "已通知 2 位监督员" in plain.text


# --- issue 13 item 2: numbers from chat -----------------------------------------------------------

@pytest.mark.parametrize("text, expect", [
    ("复核抽查 99999999999999999999", "抽查编号应在 1 到"),
    ("复核抽查 abc", "抽查编号应为整数"),
    ("参加会议 99999999999999999999", "会议号应在 1 到"),
    ("三定问效 99999", "年份应在 2000 到 2100"),
    ("同意绑定 99999999999999999999", "请写上申请编号"),
    ("随机抽查 99999999999999999999家 2人", "单位数应在 1 到 10000"),
    ("转整改 ZF99999999999999999999", "没有找到走访记录"),
    ("交办 教育局 巡察 9999-12-31 超编借调人员3名", "不应晚于 2029-11-23"),
    ("申请延期 ZG-2026-0001 9999-12-31 等待编委会", "不应晚于 2029-11-23"),
    ("监督员会议 9999-12-31 会议室", "不应晚于 2027-11-23"),
    ("生成三定问效计划 0001-0005", "年份应在 2000 到 2100"),
    ("生成走访计划 0000", "年份应在 2000 到 2100"),
    ("走访安排 教育局 9999-01-01", "不应晚于 2100-12-31"),
])
async def test_numbers_from_chat_are_range_checked(chat, text, expect):
    user = {"参加会议": "jdy1", "同意绑定": "admin1", "申请延期": "jyj_ll"}.get(text.split()[0], "bb_ywy1")
    reply = await chat.say(user, text)
    assert expect in reply.text, reply.text
    assert "出错" not in reply.text


async def test_a_real_draw_still_rechecks(chat, app):
    await chat.say("bb_ywy1", "随机抽查 3家 2人")
    assert "与当时结果一致" in (await chat.say("bb_ywy1", "复核抽查：1")).text
    async with app.db.read() as s:
        assert len((await s.exec(select(RandomDraw))).all()) == 1


async def test_a_visit_on_a_rest_day_is_confirmed_first(make_bot, demo_db, emulator):
    from bot.importing import import_file
    from models import PlannedVisit, Unit
    from tests.visits.test_visits import DEMO

    await import_file(demo_db, "groups", DEMO / "groups.csv")
    app = await make_bot(clock=FakeClock(beijing("2026-11-23 10:00")))
    chat = Chat(emulator)
    await chat.say("bb_ywy1", "生成走访计划 2027")
    async with app.db.read() as s:
        visit = (await s.exec(select(PlannedVisit).where(PlannedVisit.month == 3))).first()
        unit = await s.get(Unit, visit.unit_id)
    warned = await chat.say("bb_ywy1", f"走访安排 {unit.name} 2027-03-14")
    assert "星期日" in warned.text and "休息日" in warned.text
    async with app.db.read() as s:
        assert (await s.get(PlannedVisit, visit.id)).scheduled_on is None
    assert "已安排 2027-03-14" in (await chat.say("bb_ywy1", "确认")).text
    assert "已安排 2027-03-16" in (await chat.say("bb_ywy1", f"走访安排 {unit.name} 2027-03-16")).text


async def test_a_timed_out_dialogue_hands_back_what_was_written(chat, emulator, app):
    from datetime import timedelta

    from jobs.dialogues import expire_dialogues

    for text in ("反馈", "1", "跳过", "借调教师长期不归还", "已超过一年"):
        await chat.say("jdy1", text)
    app.services.clock.set(app.services.clock() + timedelta(minutes=31))
    assert await expire_dialogues(app.services) == 1
    [note] = await emulator.wait_push("jdy1")
    assert "已自动结束" in note.text and "借调教师长期不归还\n已超过一年" in note.text
    for text in ("交办", "教育局", "巡察", "超编借调人员3名"):
        await chat.say("bb_ywy1", text)
    app.services.clock.set(app.services.clock() + timedelta(minutes=31))  # the user writes before the job runs
    late = await chat.say("bb_ywy1", "一个月内清退")
    assert "已超时结束" in late.text and "超编借调人员3名" in late.text
