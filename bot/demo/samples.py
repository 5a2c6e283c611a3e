"""Business samples for the demo's 监督看板 (and its browser tests): problems with lights and history,
a year of approval items, supervisor feedback in every quarter so far, and this year's visit roster.

Everything goes through the capabilities' own model functions (create_problem, report, upsert_item,
file_feedback, answer, the roster's greedy planner), as the chat commands and imports would.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import Database
from models import Account, PlannedVisit, ProblemEvent, RosterPlan, Unit, VisitRecord
from models.approvals.ops import ItemData, upsert_item
from models.approvals.tables import DAILY_TYPES, DONE, IN_PROGRESS
from models.base import LOCAL_TZ
from models.calendar.workdays import WorkCalendar, load_calendar
from models.feedback import ops as feedback
from models.rectification.ops import create_problem, report
from models.visits.queries import build_instance
from models.visits.roster import greedy_plan

# unit short name → (source, description, working days from today to the deadline: negative = overdue)
PROBLEMS = [
    ("教育局", "巡察", "超编借调教师 3 名未清退", -12),
    ("教育局", "审计", "内设机构领导职数超配 1 名", 3),
    ("教育局", "评估", "三定规定职责履行台账不全", 20),
    ("财政局", "专项检查", "编外聘用人员未按规定备案", -2),
    ("城关镇", "巡察", "综合执法队人员混岗使用", 4),
    ("城关镇", "监督员反馈", "便民服务中心窗口人员长期借调", 25),
    ("融媒体中心", "其他", "事业单位法人年报信息未公示", 15),
]


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), LOCAL_TZ)


async def load_board_samples(db: Database, now: datetime) -> str:
    """Adds the samples to the demo county (units, accounts and visit groups loaded); returns a summary."""
    rng = random.Random(16)
    today = now.astimezone(LOCAL_TZ).date()
    cal = await load_calendar(db)
    async with db.write() as s:
        units = {u.short_name or u.name: u for u in (await s.exec(select(Unit))).all()}
        accounts = {a.user_id: a for a in (await s.exec(select(Account))).all()}
        staff, supervisor = accounts["bb_ywy1"], accounts["jdy1"]
        contact = accounts["jyj_ll"]
        from_feedback = None
        for short, source, text, days in PROBLEMS:
            deadline = cal.add_workdays(today, days) if days >= 0 else _back(cal, today, -days)
            problem = await create_problem(
                s, unit_id=units[short].id, source=source, description=text, requirement="限期整改到位",  # type: ignore[arg-type]
                assigned_on=min(today - timedelta(days=40), deadline), deadline=deadline, provisional=False,
                actor=staff)
            if short == "教育局" and days > 0:
                event = await report(s, problem, contact, "已调整 1 名，其余正在办理")
                event.at = _at(today - timedelta(days=2), 15)
            for event in (await s.exec(select(ProblemEvent).where(  # the 交办 on the day it was assigned
                    ProblemEvent.problem_id == problem.id, ProblemEvent.action == "交办"))).all():
                event.at = _at(problem.assigned_on, 9)
                s.add(event)
            if source == "监督员反馈":
                from_feedback = problem
        units["教育局"].frozen_since = today - timedelta(days=3)  # as the ladder does past freeze_after
        s.add(units["教育局"])
        ids = [u.id for u in units.values()]
        n = 0
        for back in range(365, 0, -3):  # about 120 items over the last year, a few still in progress
            day = today - timedelta(days=back)
            if not cal.is_workday(day):
                continue
            n += 1
            done = back > 20 or rng.random() < 0.5
            took = rng.choice([0, 0, 0, 0, 1, 1, 2, 3, 5]) if done else 0
            finished = cal.add_workdays(day, took) if took else day
            await upsert_item(s, ItemData(
                number=f"SP-DEMO-{n:04d}", unit_id=rng.choice(ids), type=rng.choice(DAILY_TYPES),  # type: ignore[arg-type]
                title=f"示例审批事项{n}", submitted_at=_at(day, 9), stage="办结" if done else "审核",
                status=DONE if done else IN_PROGRESS, handler_name="李明",
                completed_at=_at(finished, 16) if done else None), source="file", cal=cal, now=_at(day, 9))
        for quarter_start in (date(today.year, m, 1) for m in (1, 4, 7, 10)):
            for k in range(3):
                day = quarter_start + timedelta(days=10 + 20 * k)
                if day > today:
                    break
                fb = await feedback.file_feedback(
                    s, supervisor=supervisor, category="意见建议", unit_id=rng.choice(ids),
                    content=f"示例反馈：窗口服务建议（{day}）", show_name=False, at=_at(day))
                if k < 2:
                    await feedback.answer(s, fb, staff, "已转相关单位研究落实", working_days=rng.choice([3, 5, 8]))
                elif from_feedback is not None:  # the 城关镇 problem came from this one
                    await feedback.to_problem(s, fb, staff, from_feedback)
                    from_feedback = None
        await _roster(s, today, cal)
    return f"看板示例数据：{len(PROBLEMS)} 个整改问题、{n} 件审批事项、本年走访计划和监督员反馈。"


def _back(cal: WorkCalendar, today: date, workdays: int) -> date:
    day, count = today, 0
    while count < workdays:
        day -= timedelta(days=1)
        count += cal.is_workday(day)
    return day


async def _roster(s: AsyncSession, today: date, cal: WorkCalendar) -> None:
    """This year's plan from the roster's own greedy planner; units planned before this month are
    visited, except every fifth (late)."""
    instance, groups = await build_instance(s, today.year, 1, today, cal)
    if not groups:
        return
    plan = RosterPlan(year=today.year, report="{}")
    s.add(plan)
    await s.flush()
    for i, (unit_id, (group_id, month)) in enumerate(sorted(greedy_plan(instance).items())):
        s.add(PlannedVisit(plan_id=plan.id, unit_id=unit_id, group_id=group_id, month=month))  # type: ignore[arg-type]
        if month < today.month and i % 5:
            s.add(VisitRecord(unit_id=unit_id, group_id=group_id, visited_on=date(today.year, month, 15),
                              who="李明", findings="运行正常"))
