"""The 下沉式走访 roster planner (models/visits/roster.py): hand-checked optima, hard rules on generated
instances (checked here, independently of the planner's own evaluator), infeasible input explained,
re-planning, 三定问效 years and 双随机 draws."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable

import pytest

from models.visits.inspections import draw, plan_sanding
from models.visits.roster import (
    RosterGroup,
    RosterInstance,
    RosterResult,
    RosterUnit,
    check_capacity,
    evaluate,
    greedy_plan,
    plan_roster,
    replan,
)


def units_of(*towns: str, priority: tuple[int, ...] = (), last: dict[int, int] | None = None) -> list[RosterUnit]:
    return [RosterUnit(i, t, i in priority, (last or {}).get(i)) for i, t in enumerate(towns, start=1)]


def group(gid: int, blocked: Iterable[int] = (), avoid: Iterable[int] = ()) -> RosterGroup:
    return RosterGroup(gid, f"第{gid}组", frozenset(blocked), frozenset(avoid))


def check_hard(inst: RosterInstance, result: RosterResult) -> None:
    """The hard rules, written out again: each unit once, fixed visits kept, never a blocked month or a
    回避 pair, at most max per group-month, min..max in every open group-month (0 when relaxed)."""
    plan, groups = result.assignments, {g.id: g for g in inst.groups}
    assert result.hard_violations == 0
    assert sorted(plan) == sorted(u.id for u in inst.units)
    fixed = Counter(inst.fixed.values())
    for uid, (gid, month) in plan.items():
        if uid in inst.fixed:
            assert (gid, month) == inst.fixed[uid]
            continue
        assert month in inst.months and month >= inst.from_month
        assert month not in groups[gid].blocked_months, (uid, gid, month)
        assert uid not in groups[gid].avoid, (uid, gid)
    load = Counter(plan.values())
    for (gid, month), n in load.items():
        assert n <= max(inst.max_per_slot, fixed[gid, month])
    for g in inst.groups:
        for month in inst.months:
            if month < inst.from_month or month in g.blocked_months or fixed[g.id, month]:
                continue
            n = load[g.id, month]
            if result.figures["empty_months_allowed"]:
                assert n == 0 or n >= min(inst.min_per_slot, len(inst.units) - len(inst.fixed)), (g.id, month, n)
            else:
                assert n >= inst.min_per_slot, (g.id, month, n)
    objective, _, bad = evaluate(inst, plan, allow_empty=result.figures["empty_months_allowed"])
    assert (objective, bad) == (result.objective, 0)
    assert result.bound <= result.objective


def solved(inst: RosterInstance, limit: float = 5.0) -> RosterResult:
    result = plan_roster(inst, limit)
    assert result.status in ("optimal", "feasible"), result.problems
    check_hard(inst, result)
    return result


# --- hand-checked optima ---------------------------------------------------------------------------

def test_one_town_per_month_is_obvious() -> None:
    towns = ["甲", "甲", "乙", "乙", "丙", "丙"]
    r = solved(RosterInstance(units_of(*towns), [group(1)], months=range(1, 4)))
    assert (r.objective, r.bound, r.optimal, r.status) == (0, 0, True, "optimal")
    by_month = Counter((m, towns[u - 1]) for u, (_, m) in r.assignments.items())
    assert sorted(by_month.values()) == [2, 2, 2]


def test_a_lone_unit_costs_one_extra_town() -> None:
    # 甲甲甲乙丙丙 in three months of two: 乙 has to share a month → one extra town at best.
    r = solved(RosterInstance(units_of("甲", "甲", "甲", "乙", "丙", "丙"), [group(1)], months=range(1, 4)))
    assert (r.objective, r.bound, r.optimal) == (10, 10, True)
    assert r.figures["extra_towns"] == 1


def test_towns_are_packed_into_group_months() -> None:
    # 甲×4 乙×3 丙×3, two groups × two months: 甲甲 | 甲甲 | 乙乙乙 | 丙丙丙, loads 5 and 5.
    towns = ["甲"] * 4 + ["乙"] * 3 + ["丙"] * 3
    inst = RosterInstance(units_of(*towns), [group(1), group(2)], months=range(1, 3))
    r = solved(inst)
    assert (r.objective, r.optimal) == (0, True)
    for (g, m), members in Counter(r.assignments.values()).items():
        assert len({towns[u - 1] for u, slot in r.assignments.items() if slot == (g, m)}) == 1
        assert members in (2, 3)


def test_priority_units_go_in_the_first_quarter() -> None:
    inst = RosterInstance(units_of(*["甲"] * 12, priority=(11, 12)), [group(1)], months=range(1, 7))
    r = solved(inst)
    assert (r.objective, r.optimal) == (0, True)
    assert r.assignments[11][1] <= 3 and r.assignments[12][1] <= 3


def test_priority_after_q1_when_the_group_cannot_go_is_explained() -> None:
    inst = RosterInstance(units_of(*["甲"] * 6, priority=(1,)), [group(1, blocked=(1, 2, 3))], months=range(1, 7))
    r = solved(inst)
    assert (r.objective, r.bound, r.optimal) == (100, 100, True)
    assert any("重点单位排不进第一季度" in p for p in r.problems)


def test_last_years_pairs_are_not_repeated() -> None:
    last = {u: 1 if u <= 4 else 2 for u in range(1, 9)}
    inst = RosterInstance(units_of(*["甲"] * 8, last=last), [group(1), group(2)], months=range(1, 3))
    r = solved(inst)
    assert (r.objective, r.optimal) == (0, True)
    assert all(r.assignments[u][0] != last[u] for u in last)


def test_loads_balanced_one_apart() -> None:
    # 11 units, group 1 has three months, group 2 two: 6 and 5 is the best (one apart = 20).
    inst = RosterInstance(units_of(*["甲"] * 11), [group(1), group(2, blocked=(3,))], months=range(1, 4))
    r = solved(inst)
    assert (r.objective, r.bound, r.optimal) == (20, 20, True)
    assert sorted(Counter(g for g, _ in r.assignments.values()).values()) == [5, 6]


def test_greedy_keeps_the_hard_rules_on_a_small_county() -> None:
    inst = generated(random.Random(5), 60, 3)
    plan = greedy_plan(inst)
    assert evaluate(inst, plan)[2] == 0


# --- property tests on generated instances ---------------------------------------------------------

def generated(rng: random.Random, n: int | None, g: int, months: int = 12, towns: int = 8) -> RosterInstance:
    """A county: up to two blocked months per group, ≈5 % 回避, 15 % priority units, some units with a
    group last year; `n` None: between the number of open group-months (the minimum relaxed) and 95 %
    of their room."""
    groups = [(k, frozenset(rng.sample(range(1, months + 1), rng.choice([0, 0, 1, 2])))) for k in range(1, g + 1)]
    slots = sum(months - len(b) for _, b in groups)
    n = n or rng.randint(max(2, slots), max(2, int(2.85 * slots)))
    units = [RosterUnit(i, f"镇{rng.randrange(rng.randint(1, towns))}", rng.random() < 0.15,
                        rng.choice([None, *range(1, g + 1)])) for i in range(1, n + 1)]
    avoid = {k: {u for u in range(1, n + 1) if rng.random() < 0.05} for k in range(1, g + 1)}
    for u in set.intersection(*avoid.values()):
        avoid[rng.randint(1, g)].discard(u)
    return RosterInstance(units, [RosterGroup(k, f"第{k}组", b, frozenset(avoid[k])) for k, b in groups],
                          months=range(1, months + 1))


@pytest.mark.parametrize("seed", range(40))
def test_generated_plans_keep_every_hard_rule(seed: int) -> None:
    rng = random.Random(seed)
    medium = seed % 8 == 7
    inst = generated(rng, None, rng.randint(4, 12) if medium else rng.randint(1, 5),
                     12 if medium else rng.choice([3, 6, 12]), towns=20 if medium else 8)
    result = plan_roster(inst, 2.0 if medium else 1.0)
    if result.status == "infeasible":  # 回避 and blocked months can leave a unit too few places
        assert result.problems and all(any("\u4e00" <= ch <= "\u9fff" for ch in p) for p in result.problems)
        return
    check_hard(inst, result)


@pytest.mark.parametrize("seed", range(6))
def test_generated_replans_keep_the_past(seed: int) -> None:
    rng = random.Random(100 + seed)
    inst = generated(rng, rng.randint(30, 70), rng.randint(2, 4))
    first = plan_roster(inst, 1.0)
    if first.status == "infeasible":
        return
    from_month = rng.randint(2, 10)
    visited = [u for u, (_, m) in first.assignments.items() if m >= from_month][:2]  # visited early
    fixed = {u: v for u, v in first.assignments.items() if v[1] < from_month or u in visited}
    again = RosterInstance(inst.units, inst.groups, inst.months, fixed=fixed, from_month=from_month)
    result = plan_roster(again, 1.0)
    assert result.status != "infeasible", result.problems
    check_hard(again, result)
    assert all(result.assignments[u] == v for u, v in fixed.items())


def test_replan_helper_keeps_months_before_and_visited_units() -> None:
    inst = generated(random.Random(7), 70, 3)
    first = solved(inst, 2.0)
    later = next(u for u, (_, m) in first.assignments.items() if m == 9)
    r = replan(inst, first.assignments, 6, time_limit=2.0, visited=[later])
    assert r.status in ("optimal", "feasible")
    assert r.assignments[later] == first.assignments[later]
    assert all(r.assignments[u] == v for u, v in first.assignments.items() if v[1] < 6)
    assert all(m >= 6 for u, (_, m) in r.assignments.items() if first.assignments[u][1] >= 6)


# --- infeasible input, in plain words --------------------------------------------------------------

def test_a_unit_every_group_must_avoid() -> None:
    inst = RosterInstance(units_of(*["甲"] * 8), [group(1, avoid=(3,)), group(2, avoid=(3, 5))], months=range(1, 3))
    r = plan_roster(inst, 1.0)
    assert r.status == "infeasible"
    assert any("单位3" in p and "回避" in p for p in r.problems)
    assert check_capacity(inst) == r.problems


def test_too_few_groups() -> None:
    inst = RosterInstance(units_of(*[f"镇{i % 20}" for i in range(2000)]), [group(g) for g in range(1, 41)])
    problems = check_capacity(inst)
    assert any("2000个单位至少需要56个组" in p for p in problems)
    assert plan_roster(inst).status == "infeasible"


def test_units_only_an_overfull_group_may_visit() -> None:
    # Group 2 must avoid units 1-5; group 1 can only go in January (room for 3).
    inst = RosterInstance(units_of(*["甲"] * 8), [group(1, blocked=tuple(range(2, 13))), group(2, avoid=range(1, 6))])
    r = plan_roster(inst, 1.0)
    assert r.status == "infeasible"
    assert any("只能由第1组走访" in p and "排不下" in p for p in r.problems), r.problems


def test_units_blocked_for_the_rest_of_the_year_on_replan() -> None:
    inst = RosterInstance(units_of(*["甲"] * 6), [group(1, blocked=(7, 8, 9, 10, 11, 12)), group(2, avoid=(4,))],
                          fixed={1: (1, 2), 2: (1, 2)}, from_month=7)
    assert any("单位4" in p and "7月至12月都不能走访" in p for p in check_capacity(inst))


def test_too_few_units_relaxes_the_minimum_and_says_so() -> None:
    r = solved(RosterInstance(units_of("甲", "甲", "乙", "乙", "乙"), [group(1), group(2)]))
    assert r.figures["empty_months_allowed"] and r.figures["empty_slots"] == 22
    assert any("有些组在有些月份不安排走访" in p for p in r.problems)


def test_minimum_impossible_through_avoidance_is_relaxed_and_said() -> None:
    # Groups 1 and 2 (January and February) may only visit units 12-16: five units for their four
    # group-months of at least two visits. Counting alone does not show it; CP-SAT proves it.
    inst = RosterInstance(units_of(*["甲"] * 16), [group(1, blocked=(3, 4), avoid=range(1, 12)),
                                                 group(2, blocked=(3, 4), avoid=range(1, 12)), group(3)],
                          months=range(1, 5))
    r = solved(inst)
    assert r.figures["empty_months_allowed"]
    assert any("做不到每组每月至少走访2个单位" in p for p in r.problems), r.problems


# --- 三定规定跟踪问效 and 双随机 ---------------------------------------------------------------------

def test_sanding_is_balanced_and_priority_first() -> None:
    first = {3, 7, 19, 22, 1, 2, 4, 5, 6, 8, 9, 10}
    plan = plan_sanding([(u, u in first) for u in range(1, 24)], [2027, 2028, 2029, 2030, 2031])
    assert sorted(plan) == list(range(1, 24))
    counts = Counter(plan.values())
    assert max(counts.values()) - min(counts.values()) <= 1 and sorted(counts) == [2027, 2028, 2029, 2030, 2031]
    assert max(plan[u] for u in first) <= min(plan[u] for u in plan if u not in first)


def test_draw_is_reproducible_from_its_seed() -> None:
    units, people = list(range(1, 101)), [f"user{i}" for i in range(12)]
    a = draw("5f3a9c", units, 5, people, 2)
    assert a == draw("5f3a9c", list(reversed(units)) + units[:10], 5, people[::-1], 2)  # canonical order
    assert a != draw("5f3a9d", units, 5, people, 2)
    assert len(set(a[0])) == 5 and set(a[0]) <= set(units) and len(set(a[1])) == 2 and set(a[1]) <= set(people)
    with pytest.raises(ValueError):
        draw("x", [1, 2], 3, people, 1)
