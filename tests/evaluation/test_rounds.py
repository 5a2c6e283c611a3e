"""三张清单 of an evaluation round through the emulator: 特色亮点; 问题不足 becomes a 整改 problem (the path
of 转整改) and its 销号 completes the item; 完善制度 has an owner and a due date and is reminded like a
problem; 评估清单 counts and progress; the xlsx export keeps user text as text."""

from __future__ import annotations

from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from jobs.evaluation import daily
from models import Problem, RoundItem
from tests.conftest import Chat, FakeClock, beijing


@pytest.fixture
async def app(make_bot):
    return await make_bot(clock=FakeClock(beijing("2026-11-23 10:00")))  # a Monday


@pytest.fixture
def chat(emulator, app) -> Chat:
    return Chat(emulator)


async def test_three_lists_flow_into_rectification_and_reminders(app, chat, emulator):
    assert "请先建立" in (await chat.say("bb_ywy1", "评估 亮点 建立评估工作机制")).text
    opened = await chat.say("bb_ywy1", "评估 2026 第一批")
    assert "已建立评估批次“2026 第一批”" in opened.text
    good = await chat.say("bb_ywy1", "评估 亮点 =SUM(A1) 建立案头审核与实地评估相结合机制")
    assert "已登记 PG-2026-0001（特色亮点，2026 第一批）" in good.text

    made = await chat.say("bb_ywy1", "评估 问题 教育局 10个工作日 内设机构超限额设置")
    assert "ZG-2026-0001" in made.text
    [assigned] = await emulator.wait_push("jyj_ll")
    assert "ZG-2026-0001" in assigned.text and "2026 第一批评估发现：内设机构超限额设置" in assigned.text
    async with app.db.read() as s:
        problem = (await s.exec(select(Problem))).one()
        item = (await s.exec(select(RoundItem).where(RoundItem.number == "PG-2026-0002"))).one()
    assert (problem.source, problem.origin, item.problem_id, item.kind) == (
        "评估", "evaluation:PG-2026-0002", problem.id, "问题不足")

    rule = await chat.say("bb_ywy1", "评估 制度 李明 2026-12-01 制定编制使用审核办法")
    assert "PG-2026-0003" in rule.text and "负责人 李明" in rule.text and "期限 2026-12-01" in rule.text
    assert "没有找到负责人" in (await chat.say("bb_ywy1", "评估 制度 不存在的人 2026-12-01 某制度")).text

    lists = await chat.say("bb_ld1", "评估清单")
    assert "评估三张清单 · 2026 第一批" in lists.text
    assert "特色亮点：1 项，已完成 0 项" in lists.text and "问题不足：1 项，已完成 0 项" in lists.text
    assert "完善制度：1 项，已完成 0 项" in lists.text and "ZG-2026-0001，待整改" in lists.text

    # the 完善制度 owner is reminded like a problem: 5 working days before the due day
    app.services.clock.set(beijing("2026-11-24 10:00"))
    await daily(app.services)
    reminder = [p for p in await emulator.wait_push("bb_ywy1", count=1) if "完善制度提醒" in p.text]
    assert reminder and "PG-2026-0003" in reminder[0].text and "还剩 5 个工作日" in reminder[0].text
    await daily(app.services)  # the same rung once only
    assert len([p for p in emulator.pushes_to("bb_ywy1") if "完善制度提醒" in p.text]) == 1

    await chat.say("jyj_ll", "整改 ZG-2026-0001 已撤销超限额的内设机构")
    await chat.say("bb_ywy1", "销号 ZG-2026-0001 整改到位")
    assert "销号后自动完成" in (await chat.say("bb_ywy1", "评估 完成 PG-2026-0002")).text
    done = await chat.say("bb_ywy1", "评估 完成 PG-2026-0003 已印发")
    assert "PG-2026-0003 已标记完成" in done.text
    lists = await chat.say("bb_ld1", "评估清单 2026 第一批")
    assert "问题不足：1 项，已完成 1 项" in lists.text and "完善制度：1 项，已完成 1 项" in lists.text
    async with app.db.read() as s:
        item = (await s.exec(select(RoundItem).where(RoundItem.number == "PG-2026-0002"))).one()
    assert item.done_on is not None  # 销号 of its problem completed it

    exported = await chat.say("bb_ld1", "导出评估清单")
    assert "三张清单已生成" in exported.text
    [push] = await emulator.wait_push("bb_ld1")
    book = load_workbook(BytesIO(emulator.media[push.param["mediaId"]][1]))
    assert book.sheetnames == ["特色亮点", "问题不足", "完善制度"]
    cell = book["特色亮点"]["C3"]
    assert cell.value == "=SUM(A1) 建立案头审核与实地评估相结合机制" and cell.data_type == "s"
    assert book["问题不足"]["F3"].value == "ZG-2026-0001" and book["完善制度"]["D3"].value == "李明"
