"""A hand-computed county of three units, scored from the bot's own data (SQLite, and PostgreSQL when
BOT_TEST_POSTGRES_URL is set): every automatic rule's facts and deduction, a manual score, an
indicator for one unit only, the weighted total and the rank.

Year 2027 as of Friday 2027-03-19 (no holiday between 1 and 19 March). Unit A:
- 整改: P1 deadline 03-01, closed 03-05 (4 working days late); P2 deadline 03-10, open (7 working days
  late by 03-19); P3 closed on time and 退回 once; P0 assigned in 2026 (not counted); frozen since
  03-14 (5 days) → 10 − (2×2 + 0.1×11 + 1 + 0.2×5) = 2.9
- 预警: one severe warning open since 03-09 (10 days); a resolved one and a level-2 one don't count → 7
- 实名制: updated 2026-11-19, 120 days → 5 − 0.1×30 = 2
- 监督员反馈: three this year: submitted, accepted, accepted and turned into a problem → 5 − (1 + 2) = 2
- 走访: four visits, one found a problem → 10 × 3/4 = 7.5
- 审批: three items, one returned → 5 − 1 = 4
- 重点工作 (人工): 6 given by the office
日常 = 2.9+7+2+4 = 15.9/30, 随机 = 2+7.5 = 9.5/15, 重点 = 6/10; no 履职 indicator applies to A, so
its weight drops out: (20×15.9/30 + 20×9.5/15 + 30×0.6) × 100/70 = 58.952… → 58.95.
B (fresh data, nothing else, the 履职 indicator applies to it alone, unscored) → 100.
C (实名制 never updated → 0 of 5): (20×25/30 + 20 + 30) × 100/70 = 95.238… → 95.24.
"""

from __future__ import annotations

from datetime import date

from models import (
    Account,
    ApprovalItem,
    Feedback,
    Indicator,
    Problem,
    ProblemEvent,
    Unit,
    VisitRecord,
    Warning,
)
from models.calendar.workdays import WorkCalendar
from models.evaluation.ops import set_manual_score
from models.evaluation.rules import EvaluationRules
from models.evaluation.scoring import score_year
from tests.conftest import beijing

AS_OF = date(2027, 3, 19)


def unit(n: int, updated: date | None, **kw) -> Unit:
    return Unit(id=n, name=f"示例县第{n}局", short_name="ABC"[n - 1] + "局", uscc=f"1133109900000000{n:02d}",
                kind="党政机关", data_updated_on=updated, **kw)


def problem(n: int, unit_id: int, assigned: str, deadline: str, closed: str | None = None) -> Problem:
    return Problem(id=n, number=f"ZG-2027-{n:04d}", unit_id=unit_id, source="巡察", description="问题",
                   assigned_on=date.fromisoformat(assigned), deadline=date.fromisoformat(deadline),
                   status="已销号" if closed else "整改中", closed_at=beijing(f"{closed} 10:00") if closed else None)


def indicator(n: int, name: str, method: str, full: float, rule: str, units: str = "") -> Indicator:
    return Indicator(id=n, name=name, category="共性", method=method, full_mark=full, rule=rule, unit_ids=units)


async def build_county(db) -> None:
    async with db.write() as s:
        s.add_all([unit(1, date(2026, 11, 19), frozen_since=date(2027, 3, 14)), unit(2, date(2027, 3, 1)),
                   unit(3, None)])
        s.add(Account(id=1, user_id="sup", name="监督员", roles="supervisor"))
        await s.flush()
        s.add_all([
            indicator(1, "整改", "日常监管", 10, "整改"), indicator(2, "预警", "日常监管", 10, "预警"),
            indicator(3, "实名制", "日常监管", 5, "实名制"), indicator(4, "反馈", "随机监管", 5, "监督员反馈"),
            indicator(5, "走访", "随机监管", 10, "走访"), indicator(6, "审批", "日常监管", 5, "审批"),
            indicator(7, "重点工作", "重点工作监管", 10, "人工"),
            indicator(8, "履职考评", "履职考评系统监管", 10, "人工", units="2"),
            problem(1, 1, "2027-01-10", "2027-03-01", "2027-03-05"), problem(2, 1, "2027-02-01", "2027-03-10"),
            problem(3, 1, "2027-02-01", "2027-04-30", "2027-03-02"), problem(4, 1, "2026-12-01", "2027-01-05"),
        ])
        await s.flush()
        s.add_all([
            ProblemEvent(problem_id=3, at=beijing("2027-02-20 10:00"), action="退回"),
            ProblemEvent(problem_id=4, at=beijing("2026-12-20 10:00"), action="退回"),  # a 2026 problem, 2026
            Warning(number="YJ-2027-0001", unit_id=1, rule="超编", subject="行政编制", level=3,
                    first_seen=date(2027, 3, 9), last_seen=AS_OF),
            Warning(number="YJ-2027-0002", unit_id=1, rule="超职数", subject="单位领导", level=3,
                    first_seen=date(2027, 1, 9), last_seen=date(2027, 3, 1), resolved_on=date(2027, 3, 1)),
            Warning(number="YJ-2027-0003", unit_id=1, rule="临界", subject="事业编制", level=2,
                    first_seen=date(2027, 2, 9), last_seen=AS_OF),
            *[Feedback(number=f"FK-2027-000{i}", supervisor_id=1, category="其他", unit_id=1, content="反馈",
                       created_at=beijing(f"2027-02-0{i} 10:00"),
                       accepted_at=beijing(f"2027-02-0{i} 11:00") if i > 1 else None,
                       problem_id=2 if i == 3 else None) for i in (1, 2, 3)],
            *[VisitRecord(unit_id=1, visited_on=date(2027, 2, d), findings="发现", problem_id=1 if d == 3 else None)
              for d in (2, 3, 4, 5)],
            VisitRecord(unit_id=1, visited_on=date(2026, 12, 2), findings="去年", problem_id=1),
            *[ApprovalItem(number=f"SP{i}", unit_id=1, type="用编核准", submitted_at=beijing("2027-02-01 10:00"),
                           submitted_on=date(2027, 2, 1), stage="审核", stage_since=beijing("2027-02-01 10:00"),
                           status=st) for i, st in enumerate(("已退回", "已办结", "已撤回"))],
        ])
        await set_manual_score(s, year=2027, unit_id=1, indicator=(await s.get(Indicator, 7)), score=6,
                               basis="重点任务完成六成", actor_user_id="bb_ywy1")


async def test_hand_computed_county(db):
    await build_county(db)
    async with db.read() as s:
        results = await score_year(s, 2027, AS_OF, WorkCalendar(), EvaluationRules())
    by_name = {r.name: r for r in results}
    a = by_name["A局"]
    scores = {i.indicator: i.score for i in a.items}
    assert scores == {"整改": 2.9, "预警": 7, "实名制": 2, "反馈": 2, "走访": 7.5, "审批": 4, "重点工作": 6}
    evidence = {i.indicator: i.evidence for i in a.items}
    assert evidence["整改"] == "交办 3 件，按期销号 1 件，逾期 2 件（合计 11 个工作日），退回 1 次，冻结 5 天"
    assert evidence["预警"] == "严重预警 1 条未消除，合计已持续 10 天"
    assert evidence["走访"] == "走访和抽查 4 次，其中 1 次发现问题并转整改"
    assert evidence["重点工作"] == "编办评分：重点任务完成六成"
    assert "履职考评" not in scores  # applies to B only
    assert a.total == 58.95
    assert (by_name["B局"].total, by_name["C局"].total) == (100, 95.24)
    assert [(r.name, r.rank) for r in results] == [("B局", 1), ("C局", 2), ("A局", 3)]
    assert [(i.indicator, i.lost) for i in a.losses(3)] == [("整改", 7.1), ("重点工作", 4), ("预警", 3)]


async def test_weights_per_year_are_configurable(db):
    await build_county(db)
    rules = EvaluationRules(weights_by_year={2027: (40, 20, 20, 20)})
    async with db.read() as s:
        results = await score_year(s, 2027, AS_OF, WorkCalendar(), rules)
    a = next(r for r in results if r.name == "A局")
    assert a.total == 57.33  # 日常 40, 重点 20, 随机 20: (40×0.53 + 20×0.6 + 20×0.6333…) × 100/80 = 57.333…


async def test_an_earlier_as_of_day_counts_only_what_happened_by_then(db):
    await build_county(db)
    async with db.read() as s:
        results = await score_year(s, 2027, date(2027, 3, 3), WorkCalendar(), EvaluationRules())
    a = next(r for r in results if r.name == "A局")
    rect = next(i for i in a.items if i.indicator == "整改")
    # by 03-03 only P1 is late (03-02, 03-03: 2 working days); P3 was closed on 03-02, on time; not frozen yet
    assert rect.evidence == "交办 3 件，按期销号 1 件，逾期 1 件（合计 2 个工作日），退回 1 次，冻结 0 天"
