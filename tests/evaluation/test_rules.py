"""监管评价 rules by hand: every automatic rule's deduction and floor, the weighted total, ranks,
tier sizes (rounding), ties at a tier boundary and at the last-five boundary, three years running."""

from __future__ import annotations

from models.evaluation.rules import (
    apply_rule,
    assign_tiers,
    automatic_rules,
    last_n,
    movement,
    ranks,
    round2,
    three_years_running,
    tier_sizes,
    weighted_total,
)

RULES = automatic_rules(stale_days=90)
SHARES = (20, 50, 20, 10)


def test_each_automatic_rule_deducts_from_the_full_mark_with_a_floor_of_zero():
    facts = {"assigned": 3, "on_time": 1, "overdue": 2, "overdue_days": 11, "returned": 1, "frozen_days": 5}
    score, evidence = apply_rule(RULES["整改"], facts, 10)
    assert score == 2.9  # 10 − (2×2 + 0.1×11 + 1 + 0.2×5)
    assert evidence == "交办 3 件，按期销号 1 件，逾期 2 件（合计 11 个工作日），退回 1 次，冻结 5 天"
    assert apply_rule(RULES["整改"], {"overdue": 9}, 10)[0] == 0  # floor
    warned = apply_rule(RULES["预警"], {"severe": 1, "severe_days": 10}, 10)
    assert warned == (7, "严重预警 1 条未消除，合计已持续 10 天")
    assert apply_rule(RULES["实名制"], {"age_days": 120}, 5)[0] == 2  # 0.1 × (120 − 90)
    assert apply_rule(RULES["实名制"], {"age_days": 90}, 5)[0] == 5
    assert apply_rule(RULES["实名制"], {"never": 1}, 5) == (0, "实名制数据从未更新")
    assert apply_rule(RULES["监督员反馈"], {"accepted": 2, "to_problem": 1}, 5)[0] == 2  # 5 − (0.5×2 + 2×1)
    assert apply_rule(RULES["走访"], {"visits": 4, "findings": 1}, 10)[0] == 7.5  # 10 × (1 − 1/4)
    assert apply_rule(RULES["走访"], {}, 10)[0] == 10  # no visit, nothing found
    assert apply_rule(RULES["审批"], {"submitted": 3, "returned": 1}, 5) == (4, "报送审批事项 3 件，被退回 1 件")
    assert apply_rule(RULES["审批"], {"returned": 8}, 5)[0] == 0


def test_weighted_total_out_of_100_and_missing_methods_drop_out():
    weights = {"日常监管": 20, "重点工作监管": 30, "履职考评系统监管": 30, "随机监管": 20}
    items = [("日常监管", 8, 10), ("重点工作监管", 10, 10), ("重点工作监管", 5, 10), ("履职考评系统监管", 10, 10),
             ("随机监管", 5, 10)]
    assert weighted_total(items, weights) == 78.5  # 20×0.8 + 30×0.75 + 30×1 + 20×0.5
    assert weighted_total([("日常监管", 8, 10), ("随机监管", 5, 10)], weights) == 65  # (16 + 10) × 100 / 40
    assert weighted_total([], weights) == 0


def test_rounding_is_half_up_to_two_decimals():
    assert round2(0.125) == 0.13 and round2(2.675) == 2.68 and round2(58.952380) == 58.95


def test_tier_sizes_round_half_up_and_pass_takes_the_rest():
    assert tier_sizes(10, SHARES) == [2, 5, 2, 1]
    assert tier_sizes(31, SHARES) == [6, 16, 6, 3]  # 6.2, 15.5→16, 3.1; 达标 31−25
    assert tier_sizes(7, SHARES) == [1, 4, 1, 1]  # 1.4, 3.5→4, 0.7→1
    assert tier_sizes(1, SHARES) == [0, 1, 0, 0]
    assert sum(tier_sizes(3, SHARES)) == 3


def test_ties_across_a_boundary_all_take_the_better_tier():
    totals = dict(enumerate([95, 90, 90, 85, 80, 75, 70, 65, 60, 55], start=1))
    tiers = assign_tiers(totals, SHARES)
    assert [tiers[u] for u in range(1, 11)] == ["优秀"] * 3 + ["良好"] * 4 + ["达标"] * 2 + ["不达标"]
    tied_last = dict(enumerate([95, 90, 85, 80, 75, 70, 65, 60, 50, 50], start=1))
    tiers = assign_tiers(tied_last, SHARES)
    assert tiers[9] == tiers[10] == "达标" and "不达标" not in tiers.values()
    assert ranks(tied_last)[9] == ranks(tied_last)[10] == 9


def test_last_five_and_ties_at_its_boundary():
    totals = dict(enumerate([95, 90, 85, 80, 75, 70, 65, 60, 55, 50], start=1))
    assert last_n(totals, 5) == {6, 7, 8, 9, 10}
    totals[6] = 75  # tied with the 5th: rank 5, stays out
    assert last_n(totals, 5) == {7, 8, 9, 10}


def test_three_years_running_and_movements():
    assert three_years_running({2025, 2026, 2027}, 2027)
    assert not three_years_running({2025, 2027}, 2027)
    assert not three_years_running({2024, 2025, 2026}, 2027)
    assert (movement(2, 5), movement(5, 2), movement(3, 3), movement(1, None)) == ("↑3", "↓3", "—", "新")
