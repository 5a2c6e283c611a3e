"""监管评价 through the emulator on 示例县 with the demo indicators: ranking and unit sheet for the
office, 我的考评 for a unit (never another unit's score), 评分 with a reason (audited), 自评 with a
file, the exports (no live formulas), 考评通报, and 帮助 per role."""

from __future__ import annotations

import json
from collections import Counter
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from bot.app import import_file
from models import AuditEvent, Indicator, SelfAttachment, Unit
from tests.conftest import Chat, FakeClock, beijing

DEMO = Path(__file__).resolve().parents[2] / "bot" / "demo"
OTHER_UNITS = ("财政局", "卫健局", "住建局", "县委办", "城关镇", "自然资源局", "县医院")


@pytest.fixture
async def app(make_bot):
    bot = await make_bot(clock=FakeClock(beijing("2026-11-23 10:00")))  # a Monday
    await import_file(bot.db, "indicators", DEMO / "indicators.csv")
    await import_file(bot.db, "scores", DEMO / "scores.csv")
    return bot


@pytest.fixture
def chat(emulator, app) -> Chat:
    return Chat(emulator)


async def test_office_sees_the_ranking_and_each_unit_only_its_own_score(app, chat):
    ranking = await chat.say("bb_ywy1", "考评")
    assert "2026 年监管评价排名（截至 11月23日）" in ranking.text
    assert "第1名" in ranking.text and "住建局" in ranking.text and "县医院" in ranking.text
    sheet = await chat.say("bb_ld1", "考评 教育局")
    assert "服务社会满意度情况（随机监管）：8.5/10。编办评分：第三方问卷调查：满意率 85%" in sheet.text
    assert "**98.80**" in sheet.text  # 随机监管 23.5 of 25: 80 + 20 × 0.94
    assert "单位自评：尚未提交" in sheet.text

    assert "没有使用“考评”的权限" in (await chat.say("jyj_ll", "考评 财政局")).text
    assert "没有使用“考评”的权限" in (await chat.say("jyj_ll", "考评")).text
    mine = await chat.say("jyj_ll", "我的考评")
    assert "教育局" in mine.text and "**98.80**" in mine.text and "扣 1.5 分" in mine.text
    assert "目前所处档次" in mine.text and "建议" in mine.text
    for other in OTHER_UNITS:
        assert other not in mine.text
    assert "第 " not in mine.text and "名" not in mine.text.replace("姓名", "")  # no rank, no ranking


async def test_a_manual_score_needs_a_reason_and_is_audited(app, chat):
    missing = await chat.say("bb_ywy1", "评分 教育局 满意度 7")
    assert "依据必填" in missing.text
    too_high = await chat.say("bb_ywy1", "评分 教育局 满意度 12 复核")
    assert "应在 0 到 10 之间" in too_high.text
    assert "没有使用“评分”的权限" in (await chat.say("jyj_ll", "评分 教育局 满意度 10 自己说的")).text
    done = await chat.say("bb_ywy1", "评分 教育局 满意度 7 第二轮问卷复核")
    assert "服务社会满意度情况" in done.text and "7 分" in done.text and "已留痕" in done.text
    async with app.db.read() as s:
        events = (await s.exec(select(AuditEvent).where(AuditEvent.action == "evaluation.score"))).all()
    details = [json.loads(e.detail) for e in events]
    chat_event = next(d for d in details if d["来源"] == "chat")
    assert chat_event == {"年度": 2026, "指标": "服务社会满意度情况", "原分数": 8.5, "新分数": 7,
                          "依据": "第二轮问卷复核", "来源": "chat"}
    assert next(e for e in events if json.loads(e.detail)["来源"] == "chat").actor_user_id == "bb_ywy1"
    assert "扣 3 分" in (await chat.say("jyj_ll", "我的考评")).text


async def test_self_assessment_with_a_file_is_shown_beside_the_office_score(app, chat, emulator):
    saved = await chat.say("jyj_ll", "自评 95 全年无违规用编，三定规定全面落实")
    assert "95 分" in saved.text and "30 分钟内" in saved.text
    emulator.files["self-1"] = b"%PDF self assessment"
    photo = emulator.message("jyj_ll", "", msgtype="picture", content={"downloadCode": "self-1"})
    await emulator.deliver(photo)
    assert "自评的佐证材料保存（共 1 个附件）" in (await emulator.wait_reply(photo["msgId"])).text
    async with app.db.read() as s:
        assert len((await s.exec(select(SelfAttachment))).all()) == 1
    sheet = await chat.say("bb_ywy1", "考评 教育局")
    assert "单位自评：95 分（全年无违规用编" in sheet.text and "**98.80**" in sheet.text
    # a 整改报告 sent after the 自评: the next photo belongs to the report
    await chat.say("bb_ywy1", "交办 教育局 巡察 10个工作日 超编借调人员3名")
    await chat.say("jyj_ll", "整改 ZG-2026-0001 已清退")
    emulator.files["rect-1"] = b"\x89PNG report photo"
    photo = emulator.message("jyj_ll", "", msgtype="picture", content={"downloadCode": "rect-1"})
    await emulator.deliver(photo)
    assert "作为 ZG-2026-0001 的整改材料保存" in (await emulator.wait_reply(photo["msgId"])).text


async def test_export_scores_and_bulletin(app, chat, emulator):
    await import_file(app.db, "complaints", DEMO / "complaints.csv")
    await chat.say("bb_ywy1", "评分 城关镇 三定 5 =HYPERLINK(\"http://x\") 内设机构超限额")
    reply = await chat.say("bb_ld1", "导出考评")
    assert "2026 年考评表" in reply.text
    [push] = await emulator.wait_push("bb_ld1")
    _name, data = emulator.media[push.param["mediaId"]]
    book = load_workbook(BytesIO(data))
    assert book.sheetnames == ["排名", "考评表", "通报"]
    rows = [[c.value for c in row] for row in book["考评表"].iter_rows(min_row=3)]
    edu = [r for r in rows if r[0] == "示例县教育局" or r[0] == "教育局"]
    assert len(edu) == 23  # 22 indicators for every unit + the total (属地管理 is for towns only)
    assert edu[-1][1] == "总分（加权，百分制）" and edu[-1][5] == 98.8
    town = {r[1]: r for r in rows if r[0] == "城关镇"}
    assert town["“三定”规定落实情况"][7] == "编办评分：=HYPERLINK(\"http://x\") 内设机构超限额"
    for row in book["考评表"].iter_rows():
        for cell in row:
            assert cell.data_type != "f"
    bulletin = await chat.say("bb_ld1", "考评通报")
    assert "关于 2026 年度机关职能运行监管评价结果的通报" in bulletin.text
    assert "抄送：纪委、组织、财政、人社" in bulletin.text and "成绩后 5 名的单位" in bulletin.text


async def test_help_lists_what_each_role_may_use(app, chat):
    unit = (await chat.say("jyj_ll", "帮助")).text
    assert "我的考评" in unit and "自评 分数 说明" in unit and "评分 单位" not in unit and "异常名录" not in unit
    staff = (await chat.say("bb_ywy1", "帮助")).text
    for usage in ("考评 ［本月｜年份｜单位］", "评分 单位 指标 分数 依据", "异常名录", "约谈", "评估清单", "导出考评"):
        assert usage in staff
    assert "年度定级" not in staff and "我的考评" not in staff
    assert "年度定级 年份" in (await chat.say("bb_ld1", "帮助")).text


async def test_a_unit_without_indicators_is_told_to_import_them(make_bot, emulator):
    await make_bot(clock=FakeClock(beijing("2026-11-23 10:00")))
    chat = Chat(emulator)
    assert "import indicators" in (await chat.say("bb_ywy1", "考评")).text


async def test_units_are_matched_by_the_shared_matcher(app, chat):
    async with app.db.read() as s:
        assert (await s.exec(select(Unit).where(Unit.short_name == "教育局"))).one()
    assert "没有找到单位“不存在局”" in (await chat.say("bb_ywy1", "考评 不存在局")).text


async def test_the_demo_shows_a_scored_county(demo_db):
    from bot.context import Services
    from bot.demo import load_demo_extras
    from bot.render import Renderer
    from bot.router import Router
    from jobs.evaluation import scored_county

    summaries = await load_demo_extras(demo_db)
    assert "考评指标导入完成：新增 23，更新 0，未变 0" in summaries
    async with demo_db.read() as s:
        categories = Counter(i.category for i in (await s.exec(select(Indicator))).all())
    assert categories == {"共性": 12, "关联": 6, "个性": 5}
    services = Services(db=demo_db, renderer=Renderer(), router=Router(), clock=lambda: beijing("2026-11-23 10:00"))
    line = await scored_county(services)
    assert line.startswith("监管评价：31 家单位已计分，第一名 ") and "最后一名 " in line
