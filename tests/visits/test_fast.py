"""Fast tier: the 走访 commands through the real dispatcher on a copy of the demo county (clock: Monday
2026-11-23 10:00), with the demo visit groups imported where a test needs them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.importing import import_file
from models import Problem, Unit
from models.audit import AuditEvent
from models.rectification.ops import create_problem
from models.rectification.rules import RED, light
from models.visits.queries import priority_units

DEMO = Path(__file__).resolve().parents[2] / "bot" / "demo"
OFFICE = "bb_ywy1"  # 编办业务员 李明


@pytest.fixture
async def county(fast):
    await import_file(fast.services.db, "groups", DEMO / "groups.csv")
    return fast


async def _unit(fast, short_name: str) -> Unit:
    async with fast.services.db.read() as session:
        return (await session.exec(select(Unit).where(Unit.short_name == short_name))).one()


async def _problem(fast, short_name: str, deadline: date) -> None:
    unit = await _unit(fast, short_name)
    assert unit.id is not None
    async with fast.services.db.write() as session:
        await create_problem(session, unit_id=unit.id, source="专项检查", description="台账不全", requirement="整改",
                             assigned_on=date(2026, 10, 20), deadline=deadline, provisional=False, actor=None)


async def _actions(fast) -> list[str]:
    async with fast.services.db.read() as session:
        return list((await session.exec(select(AuditEvent.action).where(
            col(AuditEvent.action).startswith("visit.")).order_by(col(AuditEvent.id)))).all())


async def test_no_plan_yet_says_how_to_make_one(fast):
    answer = await fast.say(OFFICE, "走访计划")
    assert answer.outcome == "not_found"
    assert answer.text == "还没有走访计划。发送 生成走访计划 年份 生成。"


async def test_draw_needs_numbers(fast):
    answer = await fast.say(OFFICE, "随机抽查")
    assert answer.outcome == "invalid"
    assert "随机抽查 N家 M人" in answer.text


async def test_planning_without_groups_says_how_to_import_them(fast):
    answer = await fast.say(OFFICE, "生成走访计划 2027")
    assert answer.outcome == "invalid"
    assert "import groups" in answer.text


async def test_a_deadline_on_a_rest_day_is_not_red_for_the_planner(county):
    """Sunday's deadline is due on Monday (today): yellow in 台账, so no 重点单位 for the planner either."""
    await _problem(county, "教育局", date(2026, 11, 22))  # a Sunday
    answer = await county.say(OFFICE, "生成走访计划 2027")
    assert "目前没有重点单位（有红灯问题或严重预警的单位）" in answer.text
    sanding = await county.say(OFFICE, "生成三定问效计划 2027-2031")
    assert "重点单位 0 个排在前面的年份" in sanding.text


async def test_an_overdue_problem_makes_a_priority_unit(county):
    await _problem(county, "东岭街道", date(2026, 11, 20))  # Friday: overdue on Monday
    answer = await county.say(OFFICE, "生成走访计划 2027")
    assert "重点单位（有红灯问题或严重预警）都排在一季度" in answer.text
    assert "重点单位 1 个排在前面的年份" in (await county.say(OFFICE, "生成三定问效计划 2027-2031")).text
    assert "东岭街道" in (await county.say(OFFICE, "三定问效 2027")).text  # the last unit, moved to the first year
    assert "东岭街道" not in (await county.say(OFFICE, "三定问效 2031")).text


async def test_priority_units_agree_with_the_ledger_light(fast):
    """Every open problem is red in 台账 exactly when its unit is a 重点单位 of the planner."""
    deadlines = {"教育局": date(2026, 11, 22), "卫健局": date(2026, 11, 20), "财政局": date(2026, 10, 1),
                 "公安局": date(2026, 11, 23), "县府办": date(2026, 11, 21)}
    for name, deadline in deadlines.items():
        await _problem(fast, name, deadline)
    cal = await fast.services.calendar()
    today = date(2026, 11, 23)
    async with fast.services.db.read() as session:
        first = await priority_units(session, today=today, cal=cal)
        problems = (await session.exec(select(Problem))).all()
    red = {p.unit_id for p in problems if light(cal, p.deadline, today, p.status, fast.services.rules) == RED}
    assert red == first
    assert {(await _unit(fast, n)).id for n in ("卫健局", "财政局")} == first


async def test_plan_views_progress_and_changes_are_templated_and_audited(county):
    made = await county.say(OFFICE, "生成走访计划 2027")
    assert made.text.startswith("#### 2027 年走访计划已生成（第 1 版）")
    assert "- 各组全年走访：第一组 15 家，第二组 15 家" in made.text
    group = await county.say(OFFICE, "走访计划 第一组")
    assert group.text.splitlines()[0] == "#### 2027 年走访计划 · 第一组"
    assert "（2026 年还没有走访计划，显示的是 2027 年；查看其他年份请发送 走访计划 年份）" in group.text
    assert sum(line.startswith("- ") for line in group.text.splitlines()) == 15
    progress = await county.say(OFFICE, "走访进度 2027")
    assert "已走访 0 / 30 个计划内单位；应走未走 0 家" in progress.text
    assert "- 第二组：已走访 0 / 计划 15 家" in progress.text

    arranged = await county.say(OFFICE, "走访安排 教育局 2027-03-16")
    assert arranged.text == "已安排 2027-03-16 走访 教育局，前一个工作日会提醒组员。"
    assert "（2027-03-16）" in (await county.say(OFFICE, "走访计划 教育局")).text
    avoided = await county.say(OFFICE, "调整走访 卫健局 第二组 5")
    assert (avoided.outcome, avoided.text) == ("invalid", "不能调整：第二组需回避该单位。")
    blocked = await county.say(OFFICE, "调整走访 县府办 第一组 8")
    assert blocked.text == "不能调整：第一组8月不能走访。"
    recorded = await county.say(OFFICE, "走访记录 教育局 借调人员台账不全")
    assert recorded.text.startswith("已记录走访 教育局（记录号 ZF1）")
    linked = await county.say(OFFICE, "转整改 ZF1 20个工作日")
    assert "来源：下沉走访" in linked.text
    assert (await county.say(OFFICE, "转整改 ZF1 20个工作日")).text == "走访记录 ZF1 已转为整改问题。"
    assert await _actions(county) == ["visit.plan", "visit.schedule", "visit.record", "visit.to_problem"]


async def test_groups_draw_and_recheck(county):
    groups = await county.say(OFFICE, "走访分组")
    assert groups.text.splitlines()[2] == "- 第一组：组长 赵强，组员 李明；8月不走访；回避 教育局"
    drawn = await county.say(OFFICE, "随机抽查 3家 1人")
    assert drawn.text.startswith("#### 双随机抽查（第 1 号）")
    assert "任何人都可发送 复核抽查 1 用同一种子重新摇号核对。" in drawn.text
    again = await county.say(OFFICE, "复核抽查 1")
    assert "重新摇号：与当时结果一致 ✅" in again.text
    assert drawn.text.splitlines()[2] in again.text  # the same units
    too_many = await county.say(OFFICE, "随机抽查 999家 1人")
    assert (too_many.outcome, too_many.text) == ("invalid", "只能从 30 个单位、3 名编办业务员中抽取。")
    assert (await county.say(OFFICE, "复核抽查 99")).text == "没有第 99 号抽查。"
    assert await _actions(county) == ["visit.draw"]


async def test_pushes_render_their_templates(county):
    """The 走访 pushes: the day-before reminder and the quarterly 三定问效 list (jobs only enqueue)."""
    from jobs.visits import sanding_reminder, visit_pushes
    from models import OutboxMessage
    from tests.conftest import beijing

    await county.say(OFFICE, "生成走访计划 2027")
    assert "已安排 2027-03-16" in (await county.say(OFFICE, "走访安排 教育局 2027-03-16")).text
    await county.say(OFFICE, "生成三定问效计划 2027-2031")
    assert await visit_pushes(county.services, beijing("2027-03-15 08:50")) > 0
    assert await sanding_reminder(county.services, beijing("2027-01-04 08:55")) == 3
    async with county.services.db.read() as session:
        rows = (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
    texts = {r.kind: json.loads(r.payload)["text"] for r in rows}
    remind = "提醒：第二组 2027-03-16 走访 示例县教育局。走访后请发送 走访记录 教育局 发现的情况。"
    assert remind in texts["visit.remind"]
    assert ("2027 年三定规定跟踪问效共 6 个单位，尚未完成 6 个：县委办、县府办、组织部、宣传部、教育局、卫健局。"
            "发送 三定问效 2027 查看名单。") in texts["sanding.quarter"]
