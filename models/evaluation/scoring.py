"""Scoring a year: every unit × every applicable indicator, automatic rules from the facts, manual
scores from the office, the weighted total, the rank (docs/evaluation.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.calendar.workdays import WorkCalendar
from models.evaluation import queries
from models.evaluation.rules import EvaluationRules, apply_rule, automatic_rules, ranks, weighted_total
from models.evaluation.tables import MANUAL, Indicator, ManualScore, SelfAssessment
from models.staffing.units import Unit


@dataclass
class ItemScore:
    indicator: str
    category: str
    method: str
    full: float
    score: float
    rule: str  # rule name or 人工
    evidence: str
    manual: bool = False  # given by the office (overrides an automatic rule)

    @property
    def lost(self) -> float:
        return round(self.full - self.score, 2)


@dataclass
class UnitResult:
    unit_id: int
    name: str
    items: list[ItemScore] = field(default_factory=list)
    total: float = 0.0
    rank: int = 0

    def losses(self, limit: int = 5) -> list[ItemScore]:
        """What cost the most points, worst first."""
        return sorted((i for i in self.items if i.lost > 0), key=lambda i: -i.lost)[:limit]


def applies(indicator: Indicator, unit_id: int) -> bool:
    return not indicator.unit_ids or str(unit_id) in indicator.unit_ids.split(",")


async def indicators(session: AsyncSession) -> list[Indicator]:
    return list((await session.exec(select(Indicator).order_by(col(Indicator.id)))).all())


async def score_year(session: AsyncSession, year: int, as_of: date, cal: WorkCalendar,
                     rules: EvaluationRules) -> list[UnitResult]:
    """Every unit's result for `year` as of `as_of` (inclusive), best first."""
    start, end = date(year, 1, 1), min(as_of, date(year, 12, 31))
    inds = await indicators(session)
    units = (await session.exec(select(Unit.id, Unit.name, Unit.short_name))).all()
    if not inds or not units:
        return []
    facts = await queries.all_facts(session, start, end, cal)
    manual = {(m.unit_id, m.indicator_id): m for m in (await session.exec(
        select(ManualScore).where(ManualScore.year == year))).all()}
    auto = automatic_rules(rules.stale_days)
    weights = rules.weights_for(year)
    results: list[UnitResult] = []
    for unit_id, name, short in units:
        assert unit_id is not None
        result = UnitResult(unit_id, short or name)
        for ind in inds:
            if not applies(ind, unit_id):
                continue
            given = manual.get((unit_id, ind.id))  # type: ignore[arg-type]
            if given is not None:
                item = ItemScore(ind.name, ind.category, ind.method, ind.full_mark, min(given.score, ind.full_mark),
                                 ind.rule, f"编办评分：{given.basis}", manual=True)
            elif ind.rule in auto:
                score, evidence = apply_rule(auto[ind.rule], facts[ind.rule].get(unit_id, {}), ind.full_mark)
                item = ItemScore(ind.name, ind.category, ind.method, ind.full_mark, score, ind.rule, evidence)
            else:  # a manual indicator not scored yet counts at its full mark
                item = ItemScore(ind.name, ind.category, ind.method, ind.full_mark, ind.full_mark, MANUAL,
                                 "尚未评分（暂按满分计）")
            result.items.append(item)
        result.total = weighted_total([(i.method, i.score, i.full) for i in result.items], weights)
        results.append(result)
    by_rank = ranks({r.unit_id: r.total for r in results})
    for r in results:
        r.rank = by_rank[r.unit_id]
    results.sort(key=lambda r: (r.rank, r.name))
    return results


async def latest_self(session: AsyncSession, year: int, unit_id: int) -> SelfAssessment | None:
    return (await session.exec(select(SelfAssessment).where(
        SelfAssessment.year == year, SelfAssessment.unit_id == unit_id).order_by(
        col(SelfAssessment.id).desc()))).first()
