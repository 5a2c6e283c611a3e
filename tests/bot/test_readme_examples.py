"""Every chat example in the README, run against the demo data (`make demo` loads the same) as the
persona the README names, answers meaningfully: not 没有听懂, not 没有找到, not a usage error, not a
refusal, and with what the README says it shows."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from bot.demo import load_demo_extras
from tests.conftest import Chat, FakeClock, beijing

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
FAILURES = ("没有听懂", "没有找到", "用法：", "的权限", "出错了", "不能")

# (persona, what is sent, what the README writes, what the answer must contain). `{ZG}`, `{FK}`,
# `{YJ}`, `{ZF}`, `{MEETING}`, `{DRAW}`, `{BIND}` are numbers produced by earlier steps.
STEPS: list[tuple[str, str, str, str]] = [
    ("newcomer9", "帮助", "帮助", "申请绑定"),
    ("jyj_ll", "帮助", "帮助", "整改"),
    ("jyj_ll", "我是谁", "我是谁", "王芳"),
    ("newcomer9", "申请绑定 教育局", "申请绑定 教育局", "已提交绑定申请"),
    ("admin1", "绑定申请", "绑定申请", "newcomer9"),
    ("admin1", "同意绑定 {BIND}", "同意绑定 3 [角色]", "已同意"),
    ("jyj_ll", "菜单", "帮助`（或 菜单、help）", "整改"),
    # 整改
    ("bb_ywy1", "交办", "交办", "单位"),
    ("bb_ywy1", "取消", "交办", "取消"),
    ("bb_ywy1", "交办 教育局 巡察 15个工作日 超编借调3名；要求：月底前清退",
     "交办 教育局 巡察 15个工作日 超编借调3名；要求：月底前清退", "ZG-2026-0001"),
    ("jyj_ll", "整改", "整改", "ZG-2026-0001"),
    ("jyj_ll", "问题 ZG-2026-0001", "问题 ZG-2026-0001", "交办"),
    ("bb_ywy1", "台账", "台账", "ZG-2026-0001"),
    ("bb_ywy1", "台账 红灯", "台账 红灯", "台账"),
    ("bb_ywy1", "台账 教育局", "台账 教育局", "ZG-2026-0001"),
    ("bb_ywy1", "导出台账", "导出台账", "已生成"),
    ("jyj_ll", "整改 ZG-2026-0001 已清退2名", "整改 ZG-2026-0001 已清退2名", "ZG-2026-0001"),
    ("bb_ywy1", "退回 ZG-2026-0001 还差1名未清退", "退回 号 原因", "退回"),
    ("jyj_ll", "申请延期 ZG-2026-0001 2026-12-31 需等待编委会研究", "申请延期 ZG-2026-0001 2026-12-31 理由", "延期"),
    ("bb_ywy1", "同意延期 ZG-2026-0001", "同意延期 号", "同意"),
    ("jyj_ll", "整改 ZG-2026-0001 已全部清退", "整改 ZG-2026-0001 已清退2名", "ZG-2026-0001"),
    ("bb_ywy1", "销号 ZG-2026-0001 整改到位", "销号 号 [意见]", "已销号"),
    # 审批
    ("jyj_ll", "进度 SP-2026-0012", "进度 SP-2026-0012", "全程纪实"),
    ("jyj_ll", "SP-2026-0012", "进度 SP-2026-0012", "当前环节：**审核**"),
    ("jyj_ll", "联系经办人 SP-2026-0012", "联系经办人 编号", "已请经办人 李明"),
    ("jyj_ll", "我的审批", "我的审批", "SP-2026-0012"),
    ("jyj_ll", "退订审批通知", "退订审批通知", "已退订"),
    ("jyj_ll", "订阅审批通知", "订阅审批通知", "已订阅"),
    ("bb_ywy1", "审批 教育局", "审批 教育局", "SP-2026-0012"),
    ("bb_ywy1", "审批 超时", "审批 超时", "SP-2026-0007"),
    ("bb_ywy1", "审批 今日", "审批 今日", "SP-2026-0015"),
    ("bb_ywy1", "纪实 SP-2026-0003 衔接 已与组织部沟通人选", "纪实 SP-2026-0003 衔接 已与组织部沟通人选", "已记入"),
    ("bb_ld1", "办结率", "办结率 [本月|上月|本年]", "当日办结率"),
    ("bb_ld1", "办结率 上月", "办结率 [本月|上月|本年]", "当日办结率"),
    ("bb_ld1", "办结率 本年", "办结率 [本月|上月|本年]", "用时最长"),
    # 预警
    ("jyj_ll", "预警", "预警", "预警"),
    ("jyj_ll", "编制", "编制", "编制"),
    ("bb_ywy1", "预警", "预警 [单位]", "YJ-"),
    ("bb_ywy1", "预警 教育局", "预警 [单位]", "教育局"),
    ("bb_ywy1", "编制 教育局", "编制 单位", "教育局"),
    ("bb_ywy1", "转整改 {YJ}", "转整改 YJ-2026-0003 [期限]", "ZG-2026-0002"),
    # 监督员反馈
    ("jdy1", "反馈", "反馈", "类别"),
    ("jdy1", "取消", "反馈", "取消"),
    ("jdy1", "反馈 教育局 借调人员长期不回原单位", "反馈 教育局 内容…", "FK-"),
    ("jdy1", "我的反馈", "我的反馈", "FK-"),
    ("bb_ywy1", "反馈台账", "反馈台账", "FK-"),
    ("bb_ywy1", "受理 {FK}", "受理 FK-…", "受理"),
    ("bb_ywy1", "答复 {FK} 已督促教育局清理借调人员", "答复 FK-… 内容", "答复"),
    ("jdy2", "反馈 卫健局 县医院编外用工较多", "反馈 教育局 内容…", "FK-2026-0002"),
    ("bb_ywy1", "转整改 FK-2026-0002 20个工作日", "转整改 FK-… [期限]", "ZG-2026-"),
    ("bb_ld1", "反馈统计", "反馈统计 [本季|本年]", "反馈"),
    ("bb_ywy1", "监督员会议 2026-12-21 县委编办三楼会议室", "监督员会议 2026-12-21 地点", "会议"),
    ("jdy1", "参加会议", "参加会议 [号]", "会议"),
    ("jdy2", "请假", "请假 [号]", "会议"),
    # 下沉式走访
    ("bb_ywy1", "生成走访计划 2027", "生成走访计划 2027", "走访计划已生成"),
    ("bb_ywy1", "生成走访计划 2027 从5月", "生成走访计划 2027 从5月", "5 月之前的安排"),
    ("bb_ld1", "走访计划 第一组", "走访计划 [年份] [组名|本月|N月|单位]", "第一组"),
    ("bb_ld1", "走访计划 本月", "走访计划 [年份] [组名|本月|N月|单位]", "走访安排"),
    ("bb_ld1", "走访计划 教育局", "走访计划 [年份] [组名|本月|N月|单位]", "教育局"),
    ("bb_ld1", "导出走访计划", "导出走访计划 [年份]", "已生成"),
    ("bb_ywy1", "走访安排 教育局 2027-03-16", "走访安排 教育局 2027-03-16", "已安排"),
    ("bb_ywy1", "调整走访 教育局 第二组 {MONTH}", "调整走访 教育局 第二组 5", "教育局"),
    ("bb_ywy1", "走访记录 教育局 借调人员台账不全", "走访记录 教育局 发现…", "ZF"),
    ("bb_ywy1", "转整改 {ZF}", "转整改 ZF3 [期限]", "ZG-2026-"),
    ("bb_ld1", "走访进度", "走访进度 [年份]", "2027 年走访进度"),
    ("bb_ywy1", "生成三定问效计划 2027-2031", "生成三定问效计划 2027-2031", "2027 年："),
    ("bb_ld1", "三定问效 2027", "三定问效 2027", "三定规定跟踪问效单位"),
    ("bb_ywy1", "随机抽查 5家 2人", "随机抽查 5家 2人", "随机种子"),
    ("jyj_ll", "复核抽查 {DRAW}", "复核抽查 号", "与当时结果一致"),
]


@pytest.fixture
async def app(make_bot, demo_db):
    await load_demo_extras(demo_db, date(2026, 11, 23))
    app = await make_bot(clock=FakeClock(beijing("2026-11-23 10:30")))
    from jobs.warnings import scan_warnings

    await scan_warnings(app.services)
    return app


async def _open_month(app, unit_name: str, group_name: str) -> int:
    """A month in which `group_name` may take `unit_name` in the current plan (README's `调整走访` example)."""
    from sqlmodel import select

    from models import Unit, VisitGroup
    from models.visits.ops import check_move
    from models.visits.queries import plan_for

    async with app.db.read() as session:
        unit = (await session.exec(select(Unit).where(Unit.short_name == unit_name))).one()
        group = (await session.exec(select(VisitGroup).where(VisitGroup.name == group_name))).one()
        plan = await plan_for(session, 2027, date(2026, 11, 29))
        assert plan is not None and unit.id is not None
        for month in range(1, 13):
            if (await check_move(session, plan, unit.id, group, month)).ok:
                return month
    raise AssertionError("no month has room")


async def test_every_readme_example_answers_meaningfully(app, emulator):
    chat = Chat(emulator)
    found: dict[str, str] = {}
    failures = []
    for user, text, documented, expected in STEPS:
        assert documented in README, f"README no longer shows “{documented}”"
        if "{MONTH}" in text:  # the planner's answer may differ on a loaded machine: a month with room
            found["MONTH"] = str(await _open_month(app, "教育局", "第二组"))
        sent = text.format(**found)
        reply = (await chat.say(user, sent, nick="新同事")).text
        print(f"--- {user}: {sent}\n{reply}")
        for key, pattern in (("BIND", r"绑定申请 #(\d+)"), ("FK", r"FK-\d{4}-\d{4}"), ("YJ", r"YJ-\d{4}-\d{4}"),
                             ("ZF", r"ZF\d+"), ("DRAW", r"第 (\d+) 号")):
            m = re.search(pattern, reply)
            if m and key not in found:
                found[key] = m.group(m.lastindex or 0)
        if user == "admin1" and "BIND" not in found:
            m = re.search(r"#(\d+)", reply)
            if m:
                found["BIND"] = m.group(1)
        bad = [f for f in FAILURES if f in reply]
        if bad or expected not in reply:
            failures.append(f"{user} “{sent}”: {bad or '缺少 ' + expected}\n{reply}")
    assert not failures, "\n\n".join(failures)
