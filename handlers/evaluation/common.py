"""What the 监管评价 handlers share: the rules from the configuration, scoring a year, finding a unit,
views of a unit's result, and the two reply templates for short answers."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.context import Reply, Services
from models.evaluation.rules import EvaluationRules, assign_tiers
from models.evaluation.scoring import UnitResult, score_year
from models.rectification.rules import local_today
from models.staffing.unit_match import match_units
from models.staffing.units import Unit

HOW_TO_IMPROVE = {
    "整改": "按期整改、按时报告，避免逾期和退回",
    "预警": "尽快消除严重预警（超编、超职数等）",
    "实名制": "及时更新实名制数据（至少每季度一次）",
    "监督员反馈": "认真对待监督员反映的问题，从源头减少反馈",
    "走访": "落实走访和抽查中指出的问题",
    "审批": "报送审批事项前仔细核对材料，减少退回",
    "人工": "对照指标说明补齐工作和佐证材料",
}


def rules_of(services: Services) -> EvaluationRules:
    return services.config.evaluation.rules(services.config.warnings.stale_days)


def today_of(services: Services) -> date:
    return local_today(services.clock())


async def score(services: Services, session: AsyncSession, year: int, as_of: date | None = None) -> list[UnitResult]:
    cal = await services.calendar()
    return await score_year(session, year, as_of or today_of(services), cal, rules_of(services))


def note(code: str, outcome: str = "ok", **data: Any) -> Reply:
    """A short confirmation (evaluation_note.md.j2 words it by `code`)."""
    return Reply("evaluation_note.md.j2", {"code": code, **data}, outcome=outcome)


def usage(problem: str, usage_text: str, example: str = "") -> Reply:
    return Reply("usage.md.j2", {"problem": problem, "usage": usage_text, "example": example}, outcome="invalid")


async def one_unit(session: AsyncSession, text: str) -> Unit | Reply:
    """The one unit `text` names, or a reply saying none or several matched."""
    found = await match_units(session, text)
    if len(found) == 1:
        return found[0]
    if not found:
        return note("unit_not_found", "not_found", text=text)
    return note("unit_ambiguous", "invalid", text=text, names="、".join(u.name for u in found))


def bands(results: list[UnitResult], rules: EvaluationRules) -> dict[int, str]:
    """The tier each unit would get if the year ended today (所处档次)."""
    return assign_tiers({r.unit_id: r.total for r in results}, rules.tier_shares)


def unit_view(result: UnitResult, band: str, count: int) -> dict[str, Any]:
    """One unit's own result: score, band, what cost points and how to improve (no other unit)."""
    losses = [{"indicator": i.indicator, "lost": i.lost, "evidence": i.evidence,
               "hint": HOW_TO_IMPROVE.get(i.rule, HOW_TO_IMPROVE["人工"])} for i in result.losses()]
    return {"unit": result.name, "total": result.total, "rank": result.rank, "count": count, "band": band,
            "losses": losses}
