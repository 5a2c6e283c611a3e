"""Role × command × other unit: every registered command, sent by every role with arguments that
point at another unit's data, is refused to roles without the right and never shows that data to a
unit's own people. The commands come from the router, so a new command fails this test until
SAMPLE_ARGS has its arguments."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlmodel import select

from bot.demo import load_demo_extras
from bot.importing import import_file
from models import ApprovalItem, Feedback, InboundMessage, Problem, Unit
from models.accounts.roles import Role, rights_of
from models.staffing.persons import Warning
from tests.conftest import Chat, FakeClock, beijing
from tests.hostile.cases import leaks

OTHER = "卫健局"  # the other unit: 示例县卫生健康局 (the personas below belong to 教育局 or to no unit)
# texts only the other unit and the office may see
SECRETS = ("机密甲", "机密乙", "机密丙", "机密丁", "机密戊", "YJ-2026-0901")
PERSONAS = {  # user -> roles (the demo accounts)
    "jyj_ll": [Role.UNIT_CONTACT], "jyj_fzr": [Role.UNIT_LEADER], "bb_ywy1": [Role.OFFICE_STAFF],
    "bb_ld1": [Role.OFFICE_LEADER], "jdy1": [Role.SUPERVISOR], "admin1": [Role.ADMIN], "stranger": [],
}
UNIT_PEOPLE = {"jyj_ll", "jyj_fzr", "jdy1", "admin1", "stranger"}  # must never see the secrets

# Arguments of every command, pointing at the other unit's data. {problem}, {approval}, {warning},
# {feedback}, {unit} are filled in from the setup. Every registered command must be here.
SAMPLE_ARGS: dict[str, str] = {
    "帮助": "", "我是谁": "",
    "进度": "{approval}", "联系经办人": "{approval}", "我的审批": "", "审批": "{unit}",
    "纪实": "{approval} 受理 机密补记", "退订审批通知": "", "订阅审批通知": "", "办结率": "本年",
    "整改": "{problem} 已整改完毕", "申请延期": "{problem} 2027-06-30 来不及", "问题": "{problem}",
    "交办": "{unit} 巡察 10个工作日 探测问题", "台账": "{unit}", "销号": "{problem} 同意",
    "退回": "{problem} 不合格", "同意延期": "{problem}", "拒绝延期": "{problem} 不同意",
    "预警": "{unit}", "编制": "{unit}", "转整改": "{warning} 20个工作日",
    "反馈": "{unit} 探测反馈内容", "我的反馈": "", "反馈台账": "", "受理": "{feedback}",
    "答复": "{feedback} 已处理", "反馈统计": "本年", "监督员会议": "2026-12-01 三楼会议室",
    "参加会议": "", "请假": "",
    "生成走访计划": "2027", "走访计划": "{unit}", "走访安排": "{unit} 2026-12-01", "走访记录": "{unit} 探测发现",
    "调整走访": "{unit} 第一组 5", "走访进度": "", "走访分组": "",
    "生成三定问效计划": "2027-2031", "三定问效": "2027", "随机抽查": "2家 2人", "复核抽查": "1",
    "导出走访计划": "", "导出台账": "",
    "申请绑定": "{unit}", "同意绑定": "1", "拒绝绑定": "1 不认识", "绑定申请": "",
    "考评": "{unit}", "我的考评": "", "自评": "95 探测自评", "评分": "{unit} 服务社会满意度情况 1 探测",
    "约谈": "{unit} 已完成 探测", "年度定级": "2026", "异常名录": "加入 {unit} 探测", "评估": "2027 第一批",
    "评估清单": "2027 第一批", "导出评估清单": "2027 第一批", "导出考评": "2026", "考评通报": "2026",
    "看板": "",
}


def test_sample_args_cover_every_registered_command():
    import handlers
    from bot.router import Router

    names = [c.name for c in handlers.register_all(Router()).commands]
    assert sorted(set(names) - set(SAMPLE_ARGS)) == [], "add sample arguments for the new commands"
    assert sorted(set(SAMPLE_ARGS) - set(names)) == []


async def other_unit_state(bot) -> dict:
    """What the probes must not change: the other unit's problems, approvals and feedback."""
    async with bot.db.read() as s:
        unit = (await s.exec(select(Unit).where(Unit.short_name == OTHER))).one()
        problems = [(p.number, p.status, p.deadline, p.description) for p in
                    (await s.exec(select(Problem).where(Problem.unit_id == unit.id))).all()]
        approvals = [(a.number, a.stage, a.status, a.title) for a in
                     (await s.exec(select(ApprovalItem).where(ApprovalItem.unit_id == unit.id))).all()]
    return {"problems": sorted(problems), "approvals": sorted(approvals)}


@pytest.fixture
async def probe_bot(make_bot, demo_db, tmp_path):
    await load_demo_extras(demo_db)
    csv = tmp_path / "approvals.csv"
    csv.write_text("事项编号,所属单位,业务类型,事项名称,提交时间,当前环节\n"
                   f"SP-WJJ-1,{OTHER},用编核准,机密丙事项,2026-11-16,受理\n", encoding="utf-8")
    await import_file(demo_db, "approvals", csv)
    return await make_bot(clock=FakeClock(beijing("2026-11-23 10:00")))


async def setup_other_unit(bot, chat: Chat) -> dict[str, str]:
    """The other unit's data, made through the bot as the office and a supervisor would."""
    reply = await chat.say("bb_ywy1", f"交办 {OTHER} 审计 10个工作日 机密甲描述；要求：机密乙要求")
    problem = re.search(r"ZG-\d{4}-\d{4}", reply.text).group(0)
    reply = await chat.say("jdy2", f"反馈 {OTHER} 机密丁内容，请核实")
    if "确认" in reply.text:
        reply = await chat.say("jdy2", "确认")
    async with bot.db.write() as s:
        unit = (await s.exec(select(Unit).where(Unit.short_name == OTHER))).one()
        feedback = (await s.exec(select(Feedback).where(Feedback.unit_id == unit.id))).first()
        # a warning as the 实名制 scan would raise it (the demo's 卫健局 has none)
        s.add(Warning(number="YJ-2026-0901", unit_id=unit.id, rule="超编", subject="事业编制", level=3,
                      evidence='{"note": "机密戊"}', first_seen=date(2026, 11, 20), last_seen=date(2026, 11, 23)))
    assert feedback is not None, reply.text
    return {"problem": problem, "approval": "SP-WJJ-1", "feedback": feedback.number, "warning": "YJ-2026-0901",
            "unit": OTHER}


async def test_every_role_and_command_against_another_units_data(probe_bot, emulator):
    import handlers
    from bot.router import Router

    chat = Chat(emulator)
    values = await setup_other_unit(probe_bot, chat)
    before = await other_unit_state(probe_bot)
    commands = handlers.register_all(Router()).commands
    wrong: list[tuple[str, str, str]] = []
    probes = 0
    seen: dict[tuple[str, str], str] = {}  # (user, command) -> reply
    for user, roles in PERSONAS.items():
        rights = rights_of(roles)
        for command in commands:
            text = f"{command.name} {SAMPLE_ARGS[command.name].format(**values)}".strip()
            reply = await chat.say(user, text)
            probes += 1
            seen[user, command.name] = reply.text
            if leaks(reply.text, text):
                wrong.append((user, text, f"leak: {reply.text[:120]}"))
            if user in UNIT_PEOPLE and any(s in reply.text for s in SECRETS):
                wrong.append((user, text, f"shows another unit's data: {reply.text[:120]}"))
            await chat.say(user, "取消")  # leave any dialogue the command started
            await probe_bot.dispatcher.audit.flush()
            async with probe_bot.db.read() as s:
                row = (await s.exec(select(InboundMessage).where(InboundMessage.msg_id == reply.in_reply_to))).one()
            if command.right not in rights and row.outcome != "denied":
                wrong.append((user, text, f"not denied ({row.outcome}): {reply.text[:120]}"))
            if row.outcome == "error" or "处理这条消息时出错了" in reply.text:
                wrong.append((user, text, f"crashed: {reply.text[:120]}"))
            if user in UNIT_PEOPLE:  # nothing a unit's own people send changes the other unit's data
                if (now := await other_unit_state(probe_bot)) != before:
                    wrong.append((user, text, f"changed the other unit's data: {now}"))
                    before = now
            else:
                before = await other_unit_state(probe_bot)
    assert wrong == []
    assert probes == len(PERSONAS) * len(commands)
    # the arguments do point at the other unit's data: the office sees it
    assert "机密甲" in seen["bb_ywy1", "问题"] and "机密丙" in seen["bb_ywy1", "进度"]
    assert values["warning"] in seen["bb_ld1", "预警"]
