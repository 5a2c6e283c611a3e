"""下沉式走访 roster planning — pure Python, no database (models/visits/queries.py builds the instance;
the solver pipeline is in models/visits/roster_solver.py, 三定问效 and 双随机 in models/visits/inspections.py).

Hard rules: every unit is visited exactly once; an open group-month (not blocked, from `from_month`
on) gets `min_per_slot`..`max_per_slot` visits; never a 回避 pair, never a blocked month. Soft goals,
weighted (RosterWeights): priority units visited after Q1, a unit visited by last year's group again,
(max − min) yearly load of the groups, extra towns in a group-month (distinct towns − 1).

Decisions:
- min_per_slot: when there are too few units to give every open group-month the minimum (for the
  county or for one group), or 回避 makes it impossible, the rule becomes "0 or min..max": a group
  may skip a month, never visit a single unit alone. `problems` says so in plain words.
- Fixed visits (a re-plan keeps the past) are history: they count for loads, towns and the
  objective, never as violations. Only units not fixed are planned, into months ≥ from_month; a
  group-month that already holds a fixed visit (a unit visited early) is left as it is: the
  planner adds nothing to it and the minimum does not apply to it.
- Loads are balanced over the groups that can go out in at least one month of `months`.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Q1_LAST_MONTH = 3


@dataclass(frozen=True)
class RosterUnit:
    id: int
    town: str
    priority: bool = False  # open red problem or severe warning: visit in Q1
    last_year_group: int | None = None
    name: str = ""  # shown in every message; "单位<id>" only when a caller gives none


@dataclass(frozen=True)
class RosterGroup:
    id: int
    name: str
    blocked_months: frozenset[int] = frozenset()
    avoid: frozenset[int] = frozenset()  # unit ids (回避)


@dataclass(frozen=True)
class RosterWeights:
    late_priority: int = 100
    repeat_pair: int = 30
    load_spread: int = 20
    extra_town: int = 10


@dataclass
class RosterInstance:
    units: list[RosterUnit]
    groups: list[RosterGroup]
    months: Sequence[int] = range(1, 13)
    min_per_slot: int = 2
    max_per_slot: int = 3
    weights: RosterWeights = field(default_factory=RosterWeights)
    fixed: dict[int, tuple[int, int]] = field(default_factory=dict)  # unit → (group, month), kept
    from_month: int = 1


@dataclass
class RosterResult:
    assignments: dict[int, tuple[int, int]]  # unit → (group, month), fixed visits included
    objective: int
    bound: int  # proven lower bound on the objective
    optimal: bool
    seconds: float
    status: str  # "optimal" | "feasible" | "infeasible"
    problems: list[str] = field(default_factory=list)  # plain Chinese sentences
    figures: dict = field(default_factory=dict)
    hard_violations: int = 0

    @property
    def gap(self) -> float:
        """Proven gap (objective − bound) / objective; 0 when optimal."""
        if self.optimal or self.objective <= 0:
            return 0.0
        return max(0.0, (self.objective - self.bound) / self.objective)


@dataclass
class Prepared:
    """The instance with what every step needs computed once."""

    inst: RosterInstance
    horizon: list[int]  # months open for planning (≥ from_month)
    units: dict[int, RosterUnit]
    groups: dict[int, RosterGroup]
    fixed: dict[int, tuple[int, int]]  # the valid fixed visits
    free: list[RosterUnit]  # units to plan
    avail: dict[int, list[int]]  # group → open months (not blocked, no fixed visit yet)
    fixed_load: Counter  # (group, month) → fixed visits
    fixed_towns: dict[tuple[int, int], Counter]
    group_fixed: Counter  # group → fixed visits in the year
    allowed: dict[int, list[int]]  # free unit → groups that may visit it
    active: list[int]  # groups in the load balance
    notes: list[str]
    lo: int  # smallest non-empty group-month when the minimum is relaxed

    def open_slots(self) -> list[tuple[int, int]]:
        return [(g, m) for g in self.groups for m in self.avail[g]]

    def span(self) -> str:
        h = self.horizon
        return "全年" if not h or h[0] == min(self.inst.months) else f"{h[0]}月至{h[-1]}月"


def unit_name(unit: RosterUnit) -> str:
    return unit.name or f"单位{unit.id}"


def _valid_fixed(inst: RosterInstance) -> tuple[dict[int, tuple[int, int]], list[str]]:
    units, groups, months = {u.id: u for u in inst.units}, {g.id for g in inst.groups}, set(inst.months)
    fixed, notes = {}, []
    for uid, (gid, month) in sorted(inst.fixed.items()):
        if uid not in units:
            notes.append("保留的走访中有一个单位已不在走访范围内，已忽略")
        elif gid not in groups or month not in months:
            notes.append(f"{unit_name(units[uid])}原定{month}月的走访，原来的走访组已不再走访，改为重新安排")
        else:
            fixed[uid] = (gid, month)
    return fixed, notes


def prepare(inst: RosterInstance) -> Prepared:
    fixed, notes = _valid_fixed(inst)
    months = sorted(set(inst.months))
    horizon = [m for m in months if m >= inst.from_month]
    fixed_load: Counter = Counter(fixed.values())
    fixed_towns: dict[tuple[int, int], Counter] = defaultdict(Counter)
    units = {u.id: u for u in inst.units}
    for uid, slot in fixed.items():
        fixed_towns[slot][units[uid].town] += 1
    avail = {g.id: [m for m in horizon if m not in g.blocked_months and not fixed_load[g.id, m]] for g in inst.groups}
    free = [u for u in units.values() if u.id not in fixed]
    open_groups = [g for g in inst.groups if avail[g.id]]
    allowed = {u.id: [g.id for g in open_groups if u.id not in g.avoid] for u in free}
    active = [g.id for g in inst.groups if any(m not in g.blocked_months for m in months)]
    lo = inst.min_per_slot if len(free) >= inst.min_per_slot else max(1, len(free))
    return Prepared(inst, horizon, units, {g.id: g for g in inst.groups}, fixed, free, avail, fixed_load,
                    fixed_towns, Counter(g for g, _ in fixed.values()), allowed, active, notes, lo)


def balanced_loads(p: Prepared, strict: bool) -> tuple[int, dict[int, int]] | None:
    """The smallest possible (max − min) yearly load and loads that reach it."""
    mn, mx = p.inst.min_per_slot, p.inst.max_per_slot
    can = Counter(g for gs in p.allowed.values() for g in gs)
    rng = {g: (p.group_fixed[g] + (mn * len(p.avail[g]) if strict else 0),
               p.group_fixed[g] + max(mn * len(p.avail[g]) if strict else 0, min(mx * len(p.avail[g]), can[g])))
           for g in p.active}
    if not rng:
        return 0, {}
    total = sum(p.group_fixed[g] for g in rng) + len(p.free)
    for d in range(max(hi for _, hi in rng.values()) + 1):
        for low in range(max(lo for lo, _ in rng.values()) - d, min(hi for _, hi in rng.values()) + 1):
            a = {g: max(lo, low) for g, (lo, _) in rng.items()}
            b = {g: min(hi, low + d) for g, (_, hi) in rng.items()}
            if sum(a.values()) <= total <= sum(b.values()):
                for _ in range(total - sum(a.values())):
                    a[min((g for g in a if a[g] < b[g]), key=lambda g: (a[g], -b[g], g))] += 1
                return d, a
    return None


def constant(p: Prepared) -> int:
    """The objective of the fixed visits alone (their lateness, repeats and extra towns)."""
    w = p.inst.weights
    late = sum(p.units[u].priority and m > Q1_LAST_MONTH for u, (_, m) in p.fixed.items())
    rep = sum(p.units[u].last_year_group == g for u, (g, _) in p.fixed.items())
    return w.late_priority * late + w.repeat_pair * rep + w.extra_town * sum(len(t) - 1 for t in p.fixed_towns.values())


def relax_reason(p: Prepared) -> str:
    """Why the minimum per open group-month cannot hold ("" when it can, as far as counting shows)."""
    mn = p.inst.min_per_slot
    need = {g: mn * len(p.avail[g]) for g in p.groups}
    if len(p.free) < sum(need.values()):
        slots = sum(len(p.avail[g]) for g in p.groups)
        return (f"要走访的单位只有{len(p.free)}个，排不满每组每月{mn}家（各组能走访的月份合计{slots}个，"
                f"每月{mn}家就要{sum(need.values())}个单位），所以有些组在有些月份不安排走访")
    can = Counter(g for gs in p.allowed.values() for g in gs)
    for g, n in need.items():
        if can[g] < n:
            return (f"{p.groups[g].name}能去的单位只有{can[g]}个，排不满它能走访的{len(p.avail[g])}个月"
                    f"（每月{mn}家就要{n}个单位），所以它有些月份不安排走访")
    return ""


def check_capacity(inst: RosterInstance) -> list[str]:
    """What makes the instance impossible, in plain words (empty when nothing does)."""
    return capacity_problems(prepare(inst))


def capacity_problems(p: Prepared) -> list[str]:
    out, n_groups, mx = [], len(p.groups), p.inst.max_per_slot
    for u in (u for u in p.free if not p.allowed[u.id] and p.groups):
        out.append(f"{unit_name(u)}：全部{n_groups}个走访组都需要回避，没有组能去走访" if all(
            u.id in g.avoid for g in p.groups.values()) else f"{unit_name(u)}：不需回避的组在{p.span()}都不能走访")
    if p.free and not p.horizon:
        out.append(f"{p.inst.from_month}月以后没有可安排的月份，还有{len(p.free)}个单位没有安排")
    room = mx * len(p.open_slots())
    if p.free and p.horizon and len(p.free) > room:
        per_group = len(p.open_slots()) / n_groups if room else len(p.horizon)
        out.append(f"{len(p.free)}个单位至少需要{math.ceil(len(p.free) / (per_group * mx))}个组：现有{n_groups}个组，"
                   f"每组每月最多走访{mx}个单位，{p.span()}只有{room}个名额")
    return out or (hall_check(p) if p.free else [])


def hall_check(p: Prepared) -> list[str]:
    """Max flow units → groups (room per group): names the units that 回避 and blocked months leave
    too few places (a set of units whose possible groups have less room than they need)."""
    import numpy as np
    from ortools.graph.python import max_flow

    groups, n = list(p.groups), len(p.free)
    room = [p.inst.max_per_slot * len(p.avail[g]) for g in groups]
    index = {g: n + k for k, g in enumerate(groups)}
    pairs = np.array([(i, index[g]) for i, u in enumerate(p.free) for g in p.allowed[u.id]], dtype=np.int32)
    pairs = pairs.reshape(-1, 2)
    src, sink = n + len(groups), n + len(groups) + 1
    flow = max_flow.SimpleMaxFlow()
    flow.add_arcs_with_capacity(np.concatenate([np.full(n, src), pairs[:, 0], np.arange(n, n + len(groups))]),
                                np.concatenate([np.arange(n), pairs[:, 1], np.full(len(groups), sink)]),
                                np.array([1] * (n + len(pairs)) + room, dtype=np.int64))
    if flow.solve(src, sink) != flow.OPTIMAL or flow.optimal_flow() >= n:
        return []
    side = set(flow.get_source_side_min_cut())
    stuck = [unit_name(u) for i, u in enumerate(p.free) if i in side]
    near = [g for k, g in enumerate(groups) if n + k in side]
    names = "、".join(p.groups[g].name for g in near[:5]) + (f"等{len(near)}个组" if len(near) > 5 else "")
    return [f"{'、'.join(stuck[:5])}{'等' if len(stuck) > 5 else ''}共{len(stuck)}个单位只能由"
            f"{names or '很少的组'}走访（回避和停访月份所限），这些组{p.span()}只有"
            f"{sum(room[groups.index(g)] for g in near)}个名额，排不下"]


def evaluate(inst: RosterInstance, assignments: dict[int, tuple[int, int]],
             allow_empty: bool | None = None) -> tuple[int, dict, int]:
    """The independent evaluator: (objective, soft-goal figures, hard violations), from the rules alone.

    `allow_empty` None: open group-months may stay empty only when counting shows the minimum cannot
    hold (relax_reason); the planner passes True when it had to relax for other reasons."""
    mn, mx, w = inst.min_per_slot, inst.max_per_slot, inst.weights
    units = {u.id: u for u in inst.units}
    groups = {g.id: g for g in inst.groups}
    months = set(inst.months)
    fixed, _ = _valid_fixed(inst)
    if allow_empty is None:
        allow_empty = bool(relax_reason(prepare(inst)))
    n_free = sum(1 for u in units if u not in fixed)
    lo = mn if n_free >= mn else max(1, n_free)
    bad = sum(1 for u in units if u not in assignments)
    load: Counter = Counter()
    fixed_load: Counter = Counter(fixed.values())
    towns: dict[tuple[int, int], set[str]] = defaultdict(set)
    late = repeats = 0
    for uid, (gid, month) in assignments.items():
        unit = units.get(uid)
        if unit is None:
            bad += 1
            continue
        if uid in fixed:
            bad += (gid, month) != fixed[uid]
        elif gid not in groups:
            bad += 1
            continue
        else:
            bad += month not in months or month < inst.from_month
            bad += month in groups[gid].blocked_months
            bad += uid in groups[gid].avoid
        load[gid, month] += 1
        towns[gid, month].add(unit.town)
        late += unit.priority and month > Q1_LAST_MONTH
        repeats += unit.last_year_group == gid
    bad += sum(max(0, n - max(mx, fixed_load[s])) for s, n in load.items())
    empty = 0
    for g in inst.groups:
        for month in sorted(months):
            if month < inst.from_month or month in g.blocked_months:
                continue
            n = load[g.id, month]
            empty += n == 0
            if not fixed_load[g.id, month]:
                bad += n < mn if not allow_empty else 0 < n < lo
    active = [g.id for g in inst.groups if any(m not in g.blocked_months for m in months)]
    per_group: Counter[int] = Counter()
    for (gid, _), n in load.items():
        per_group[gid] += n
    loads = [per_group[g] for g in active]
    spread = max(loads) - min(loads) if loads else 0
    extra = sum(len(t) - 1 for t in towns.values())
    figures = {"late_priority": late, "repeat_pairs": repeats, "load_spread": spread, "extra_towns": extra,
               "load_min": min(loads, default=0), "load_max": max(loads, default=0), "empty_slots": empty,
               "visits": sum(load.values())}
    objective = w.late_priority * late + w.repeat_pair * repeats + w.load_spread * spread + w.extra_town * extra
    return objective, figures, bad


def slot_targets(p: Prepared, strict: bool) -> dict[tuple[int, int], int]:
    """Visits per open group-month for the greedy: the minimum everywhere (relaxed: months in calendar
    order while units last), then one more per group-month, month by month, group by group."""
    order = sorted(p.open_slots(), key=lambda s: (s[1], s[0]))
    target, left = dict.fromkeys(order, 0), len(p.free)
    for s in order:
        if strict or left >= p.lo:
            target[s] = p.inst.min_per_slot if strict else p.lo
            left -= target[s]
    while left > 0 and any(0 < target[s] < p.inst.max_per_slot for s in order):
        for s in (s for s in order if left > 0 and 0 < target[s] < p.inst.max_per_slot):
            target[s] += 1
            left -= 1
    return target


def greedy_plan(inst: RosterInstance, strict: bool | None = None) -> dict[int, tuple[int, int]]:
    """The "sorted" greedy of roster.md: priority units first, then by town; each unit takes the
    earliest group-month with room, skipping 回避 pairs and (where it can) last year's group."""
    p = prepare(inst)
    if strict is None:
        strict = not relax_reason(p)
    target = slot_targets(p, strict)
    order = sorted(target, key=lambda s: (s[1], s[0]))
    load = dict.fromkeys(order, 0)
    plan = dict(p.fixed)
    first = 0
    for u in sorted(p.free, key=lambda u: (not u.priority, u.town, u.id)):
        while first < len(order) and load[order[first]] >= target[order[first]]:
            first += 1
        ok = set(p.allowed[u.id])
        pick = None
        for rule in (0, 1, 2):
            for s in order[first:] if rule < 2 else order:
                if s[0] in ok and load[s] < (target[s] if rule < 2 else p.inst.max_per_slot) and (
                        rule or s[0] != u.last_year_group):
                    pick = s
                    break
            if pick:
                break
        if pick:
            plan[u.id] = pick
            load[pick] += 1
    return plan


def plan_roster(instance: RosterInstance, time_limit: float = 10.0) -> RosterResult:
    """Capacity and 回避 checks → the better of decomposition and greedy → a quick lower bound → stop
    if they meet, else aggregated CP-SAT hinted with the best plan → the independent evaluator."""
    from models.visits.roster_solver import solve

    start = time.perf_counter()
    p = prepare(instance)
    fatal = capacity_problems(p)
    if fatal:
        return RosterResult(dict(p.fixed), 0, 0, False, time.perf_counter() - start, "infeasible", p.notes + fatal)
    reason = relax_reason(p)
    return solve(p, not reason, start, time_limit, [*p.notes, *([reason] if reason else [])])


def replan(instance: RosterInstance, previous: dict[int, tuple[int, int]], from_month: int,
           time_limit: float = 10.0, visited: Iterable[int] = ()) -> RosterResult:
    """Re-plan from `from_month` on: visits before it (and of units already visited) are kept."""
    done = set(visited)
    fixed = {u: v for u, v in previous.items() if v[1] < from_month or u in done}
    return plan_roster(RosterInstance(instance.units, instance.groups, instance.months, instance.min_per_slot,
                                      instance.max_per_slot, instance.weights, {**instance.fixed, **fixed},
                                      from_month), time_limit)
