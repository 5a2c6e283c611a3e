"""监管评价 rules as pure functions: the automatic scoring rules, the weighted total, ranks, the
forced-distribution tiers, the last five and the three-year 黑名单 test (docs/evaluation.md).

Every automatic rule deducts from its indicator's full mark (floor 0) and says which numbers it used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from models.evaluation.tables import METHODS, TIERS

Facts = Mapping[str, float]


@dataclass(frozen=True)
class EvaluationRules:
    """What the office may configure (`[evaluation]`); the defaults are the seed's."""

    weights: tuple[float, ...] = (20, 30, 30, 20)  # 日常/重点工作/履职考评系统/随机监管
    weights_by_year: Mapping[int, tuple[float, ...]] = field(default_factory=dict)
    tier_shares: tuple[int, ...] = (20, 50, 20, 10)  # 优秀/良好/达标/不达标, percent
    last_n: int = 5  # "后五名"
    stale_days: int = 90  # 实名制 data older than this loses points
    complaints_per_quarter: int = 3  # this many complaints in a quarter put a unit on the 异常名录
    recurrence_days: int = 365  # the same kind of problem again within this many days: 异常名录
    watch_failing: bool = True  # 不达标 puts a unit on the 异常名录
    interview_remind_every: int = 5  # working days between 约谈 reminders

    def weights_for(self, year: int) -> dict[str, float]:
        return dict(zip(METHODS, self.weights_by_year.get(year, self.weights), strict=True))


@dataclass(frozen=True)
class Rule:
    name: str  # what the 计分规则 column says
    formula: str  # in Chinese, for docs and the 考评表
    deduction: Callable[[Facts, float], float]  # (facts, full mark) → points lost
    evidence: Callable[[Facts], str]


def _n(facts: Facts, key: str) -> float:
    return float(facts.get(key, 0) or 0)


def _stale(facts: Facts, full: float, stale_days: int) -> float:
    if facts.get("never", 0):
        return full
    return 0.1 * max(0.0, _n(facts, "age_days") - stale_days)


def _visits(facts: Facts, full: float) -> float:
    visits = _n(facts, "visits")
    return full * _n(facts, "findings") / visits if visits else 0.0


def automatic_rules(stale_days: int = 90) -> dict[str, Rule]:
    """The automatic rules by name. Their facts come from models/evaluation/queries.py."""
    rules = [
        Rule("整改", "2×逾期问题数 + 0.1×逾期工作日合计 + 1×退回次数 + 0.2×冻结天数",
             lambda f, full: 2 * _n(f, "overdue") + 0.1 * _n(f, "overdue_days") + _n(f, "returned")
             + 0.2 * _n(f, "frozen_days"),
             lambda f: (f"交办 {_i(f, 'assigned')} 件，按期销号 {_i(f, 'on_time')} 件，逾期 {_i(f, 'overdue')} 件"
                        f"（合计 {_i(f, 'overdue_days')} 个工作日），退回 {_i(f, 'returned')} 次，"
                        f"冻结 {_i(f, 'frozen_days')} 天")),
        Rule("预警", "2×未消除的严重预警数 + 0.1×这些预警已持续的天数合计",
             lambda f, full: 2 * _n(f, "severe") + 0.1 * _n(f, "severe_days"),
             lambda f: f"严重预警 {_i(f, 'severe')} 条未消除，合计已持续 {_i(f, 'severe_days')} 天"),
        Rule("实名制", f"0.1×（距上次更新天数 − {stale_days}），从未更新扣满分",
             lambda f, full: _stale(f, full, stale_days),
             lambda f: "实名制数据从未更新" if f.get("never", 0) else
             f"实名制数据 {_i(f, 'age_days')} 天前更新（{stale_days} 天内不扣分）"),
        Rule("监督员反馈", "0.5×受理的反馈数 + 2×转为整改问题的反馈数",
             lambda f, full: 0.5 * _n(f, "accepted") + 2 * _n(f, "to_problem"),
             lambda f: f"监督员反馈受理 {_i(f, 'accepted')} 条，其中转整改 {_i(f, 'to_problem')} 条"),
        Rule("走访", "满分×（有发现的走访或抽查记录数 ÷ 走访和抽查记录数）",
             _visits,
             lambda f: f"走访和抽查 {_i(f, 'visits')} 次，其中 {_i(f, 'findings')} 次发现问题并转整改"),
        Rule("审批", "1×因单位自身原因被退回的审批事项数",
             lambda f, full: _n(f, "returned"),
             lambda f: f"报送审批事项 {_i(f, 'submitted')} 件，被退回 {_i(f, 'returned')} 件"),
    ]
    return {r.name: r for r in rules}


RULE_NAMES = tuple(automatic_rules())


def _i(facts: Facts, key: str) -> str:
    value = _n(facts, key)
    return str(int(value)) if value == int(value) else f"{value:.1f}"


def round2(value: float) -> float:
    """Half up to two decimals (scores are shown and ranked with two decimals)."""
    return int(value * 100 + 0.5 + 1e-9) / 100 if value >= 0 else -round2(-value)


def apply_rule(rule: Rule, facts: Facts, full: float) -> tuple[float, str]:
    """The score (full mark minus the deduction, never below 0) and its evidence."""
    return round2(max(0.0, full - rule.deduction(facts, full))), rule.evidence(facts)


def weighted_total(items: list[tuple[str, float, float]], weights: Mapping[str, float]) -> float:
    """`items`: (监管方式, score, full mark). Each method's share of its full marks, weighted, out of 100.
    A method without indicators for the unit drops out and the other weights are scaled up."""
    got: dict[str, float] = {}
    full: dict[str, float] = {}
    for method, score, mark in items:
        got[method] = got.get(method, 0.0) + score
        full[method] = full.get(method, 0.0) + mark
    present = [m for m in full if full[m] > 0 and weights.get(m, 0) > 0]
    wsum = sum(weights[m] for m in present)
    if not wsum:
        return 0.0
    return round2(sum(weights[m] * got[m] / full[m] for m in present) * 100 / wsum)


def ranks(totals: Mapping[int, float]) -> dict[int, int]:
    """Competition ranking: 1 + the number of units with a strictly higher total (ties share a rank)."""
    ordered = sorted(totals.values(), reverse=True)
    first: dict[float, int] = {}
    for i, value in enumerate(ordered):
        first.setdefault(value, i + 1)
    return {unit: first[value] for unit, value in totals.items()}


def tier_sizes(n: int, shares: tuple[int, ...]) -> list[int]:
    """How many units each tier holds: 优秀, 良好 and 不达标 are n×share rounded half up; 达标 takes
    the rest (so the four always add up to n)."""
    top, good, fail = ((n * s + 50) // 100 for s in (shares[0], shares[1], shares[3]))
    while top + good + fail > n:  # only possible for tiny n: 良好 gives way first
        if good:
            good -= 1
        elif top:
            top -= 1
        else:
            fail -= 1
    return [top, good, n - top - good - fail, fail]


def assign_tiers(totals: Mapping[int, float], shares: tuple[int, ...]) -> dict[int, str]:
    """Forced distribution by rank. A unit takes the best tier whose cumulative size reaches its rank,
    so units tied across a boundary all take the better tier and the next tier shrinks."""
    sizes = tier_sizes(len(totals), shares)
    bounds, acc = [], 0
    for size in sizes:
        acc += size
        bounds.append(acc)
    out = {}
    for unit, rank in ranks(totals).items():
        out[unit] = next(TIERS[i] for i, b in enumerate(bounds) if b >= rank and sizes[i] > 0)
    return out


def last_n(totals: Mapping[int, float], n: int) -> set[int]:
    """后五名: units whose rank is beyond count − n (ties at the boundary stay out)."""
    count = len(totals)
    return {unit for unit, rank in ranks(totals).items() if rank > count - n}


def three_years_running(bad_years: set[int], year: int) -> bool:
    """黑名单: bad (后五名 or 不达标) in `year` and the two years before it."""
    return {year, year - 1, year - 2} <= bad_years


def movement(now: int, before: int | None) -> str:
    """`↑3`, `↓2`, `—` or `新` for a rank against the previous 通报."""
    if before is None:
        return "新"
    if before == now:
        return "—"
    return f"↑{before - now}" if before > now else f"↓{now - before}"


def quarter_of(month: int) -> int:
    return (month - 1) // 3 + 1
