"""The decomposition of docs/roster.md and the quick lower bound, behind models.visits.roster_solver.

- Decomposition: loads balanced in advance give each group its month sizes; a tiny integer program
  cuts each town's units into packages (one package = one group-month) for Q1 or later; an exact
  min-cost flow gives packages to groups (回避 arcs left out, last year's group and lateness priced).
- Quick lower bound: balanced loads (spread), units only last year's group may visit, and the same
  package program with free sizes and no groups (priority lateness + extra towns together; SCIP).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterator

import numpy as np
from ortools.graph.python import min_cost_flow
from ortools.linear_solver.python import model_builder as mb

from models.visits.roster import (
    Q1_LAST_MONTH,
    Prepared,
    RosterUnit,
    balanced_loads,
    constant,
)

Plan = dict[int, tuple[int, int]]


def period(month: int) -> str:
    return "q" if month <= Q1_LAST_MONTH else "r"


def shapes_of(sizes: range) -> list[tuple[int, ...]]:
    """Mixed packages: partitions of each size into two or more town pieces, largest piece first."""
    def parts(n: int, most: int) -> Iterator[tuple[int, ...]]:
        yield from [()] if n == 0 else (
            (k, *rest) for k in range(min(n, most), 0, -1) for rest in parts(n - k, k))
    return [pt for s in sizes for pt in parts(s, s) if len(pt) > 1]


def _composition(p: Prepared, strict: bool, group_sizes: dict[int, Counter] | None, limit: float):
    """Towns → packages for Q1 ("q") and later ("r"), minimising priority lateness + extra towns, groups
    ignored (an integer program for SCIP). `group_sizes` None: package sizes are free (a lower bound);
    else they match the groups' planned month sizes (size 0 = an empty month), each group choosing
    which of its sizes go in Q1. Returns (solution or None, proven bound)."""
    w, mx = p.inst.weights, p.inst.max_per_slot
    sizes, pieces = range(p.inst.min_per_slot if strict else p.lo, mx + 1), range(1, mx)
    shapes, slots = shapes_of(sizes), Counter(period(m) for _, m in p.open_slots())
    towns: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for u in p.free:
        towns[u.town][0] += 1
        towns[u.town][1] += u.priority
    m = mb.Model()
    a = {(t, P, s): m.new_int_var(0, min(n // s, slots[P]), "") for t, (n, _) in towns.items() for P in slots
         for s in sizes}
    pc = {(t, P, r): m.new_int_var(0, n // r, "") for t, (n, _) in towns.items() for P in slots for r in pieces}
    mixed = {(P, sh): m.new_int_var(0, slots[P], "") for P in slots for sh in shapes}
    y = {(g, s): m.new_int_var(0, min(k, sum(period(mo) == "q" for mo in p.avail[g])), "")
         for g, sz in (group_sizes or {}).items() for s, k in sz.items()}
    count: dict[tuple[str, int], mb.LinearExpr | int]
    if group_sizes is None:
        count = {(P, s): m.new_int_var(0, slots[P], "") for P in slots for s in sizes}
        for P in slots:
            total = sum(count[P, s] for s in sizes)
            m.add(total == slots[P]) if strict else m.add(total <= slots[P])
    else:
        for g, sz in group_sizes.items():
            m.add(sum(y[g, s] for s in sz) == sum(period(mo) == "q" for mo in p.avail[g]))
        count = {("q", s): sum(v for (_, s2), v in y.items() if s2 == s) for s in sizes}
        count.update({("r", s): sum(sz[s] for sz in group_sizes.values()) - count["q", s] for s in sizes})
    for P in slots:
        for s in sizes:
            m.add(sum(a[t, P, s] for t in towns) + sum(mixed[P, sh] for sh in shapes if sum(sh) == s) == count[P, s])
        for r in pieces:
            m.add(sum(pc[t, P, r] for t in towns) == sum(sh.count(r) * mixed[P, sh] for sh in shapes))
    late = []
    for t, (n, prio) in towns.items():
        per = {P: sum(s * a[t, P, s] for s in sizes) + sum(r * pc[t, P, r] for r in pieces) for P in slots}
        m.add(sum(per.values()) == n)
        seen = {P: m.new_bool_var("") for P in slots}  # cuts: a town in a period is at least one piece
        for P in slots:
            m.add(per[P] <= n * seen[P])
            m.add(sum(a[t, P, s] for s in sizes) + sum(pc[t, P, r] for r in pieces) >= seen[P])
        if prio:
            late.append(m.new_int_var(0, prio, ""))
            m.add(late[-1] >= prio - per.get("q", 0))
            m.add(late[-1] >= prio - prio * seen["q"]) if "q" in seen else None
    m.minimize(w.late_priority * sum(late) + w.extra_town * sum((len(sh) - 1) * v for (_, sh), v in mixed.items()))
    solver = mb.Solver("SCIP" if mb.Solver("SCIP").solver_is_supported() else "HIGHS")
    solver.set_time_limit_in_seconds(max(0.05, limit))
    if solver.solve(m) not in (mb.SolveStatus.OPTIMAL, mb.SolveStatus.FEASIBLE):
        return None, 0
    step, raw = math.gcd(w.late_priority, w.extra_town) or 1, solver.best_objective_bound
    bound = step * math.ceil(raw / step - 1e-6) if math.isfinite(raw) else 0

    def val(v: mb.Variable) -> int:
        return round(solver.value(v))

    return {"towns": {(t, P): ([s for s in sizes for _ in range(val(a[t, P, s]))],
                               [r for r in pieces for _ in range(val(pc[t, P, r]))]) for t in towns for P in slots},
            "shapes": {P: [sh for sh in shapes for _ in range(val(mixed[P, sh]))] for P in slots},
            "q": {g: Counter({s: val(v) for (g2, s), v in y.items() if g2 == g}) for g in group_sizes or {}}}, bound


def lower_bound(p: Prepared, strict: bool, limit: float = 1.0) -> tuple[int, dict[str, int]]:
    w, mx = p.inst.weights, p.inst.max_per_slot
    loads = balanced_loads(p, strict)
    q1 = [g for g, m in p.open_slots() if m <= Q1_LAST_MONTH]
    prio = [u for u in p.free if u.priority]
    stuck = sum(1 for u in prio if not set(q1) & set(p.allowed[u.id]))
    parts = {"load_spread": loads[0] if loads else 0, "late_priority": stuck + max(0, len(prio) - stuck - mx * len(q1)),
             "repeat_pairs": sum(1 for u in p.free if p.allowed[u.id] == [u.last_year_group])}
    joint = _composition(p, strict, None, limit)[1] if p.free else 0
    return constant(p) + w.load_spread * parts["load_spread"] + w.repeat_pair * parts["repeat_pairs"] + max(
        joint, w.late_priority * parts["late_priority"]), parts


def cut(units: list[RosterUnit], sizes: list[int], pieces: list[int]) -> tuple[list[list], list[list]]:
    out: tuple[list[list], list[list]] = ([], [])
    for lst, ks in zip(out, (sizes, pieces), strict=True):
        for k in sorted(ks, reverse=True):
            lst.append(units[:k])
            units = units[k:]
    return out


def assemble(pure: list[list], pieces: list[list], shapes: list[tuple[int, ...]]) -> list[list]:
    """Packages: the one-town ones, then each mixed shape from pieces of different towns where it can."""
    pool: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for pc in pieces:
        pool[len(pc)][pc[0].town].append(pc)
    out = list(pure)
    for sh in sorted(shapes, key=len, reverse=True):
        pkg, used = [], set()
        for r in sh:
            towns = [t for t, lst in pool[r].items() if lst]
            if towns:
                t = max(towns, key=lambda t: (t not in used, len(pool[r][t]), t))
                used.add(t)
                pkg += pool[r][t].pop()
        out.append(pkg)
    return [pkg for pkg in out + [pc for by in pool.values() for lst in by.values() for pc in lst] if pkg]


def town_order(u: RosterUnit) -> tuple:
    return (not u.priority, u.last_year_group if u.last_year_group is not None else -1, u.id)


def decompose(p: Prepared, strict: bool, limit: float = 1.0) -> Plan | None:
    w, mx, low = p.inst.weights, p.inst.max_per_slot, p.inst.min_per_slot if strict else p.lo
    loads = balanced_loads(p, strict)
    if loads is None or not p.free:
        return None
    group_sizes: dict[int, Counter] = {}
    for g, n in ((g, len(ms)) for g, ms in p.avail.items() if ms):
        f = loads[1].get(g, p.group_fixed[g]) - p.group_fixed[g]
        e = 0 if f == 0 else (n if strict else max(math.ceil(f / mx), min(n, f // low)))
        if e > n or (e and not low * e <= f <= mx * e):
            return None
        base, k = divmod(f, e) if e else (0, 0)
        group_sizes[g] = +Counter({base: e - k, base + 1: k, 0: n - e}) or Counter({0: n})
    sol, _ = _composition(p, strict, group_sizes, limit)
    if sol is None:
        return None
    by_town: dict[str, list[RosterUnit]] = defaultdict(list)
    for u in sorted(p.free, key=town_order):
        by_town[u.town].append(u)
    packages: list[list[RosterUnit]] = []
    for P, shapes in sol["shapes"].items():
        pure: list[list[RosterUnit]] = []
        pieces: list[list[RosterUnit]] = []
        for t, units in by_town.items():
            n_q = sum(map(sum, sol["towns"].get((t, "q"), ())))
            x, y = cut(units[:n_q] if P == "q" else units[n_q:], *sol["towns"][t, P])
            pure, pieces = pure + x, pieces + y
        packages += assemble(pure, pieces, shapes)
    months: dict[tuple[int, str, int], list[int]] = defaultdict(list)  # (group, period, size) → months
    for g, sz in group_sizes.items():
        for P, ss in (("q", sol["q"][g]), ("r", sz - sol["q"][g])):
            for mo, s in zip([mo for mo in p.avail[g] if period(mo) == P], sorted(ss.elements()), strict=True):
                months[g, P, s].append(mo) if s else None
    classes, allowed, k = list(months), {u.id: set(p.allowed[u.id]) for u in p.free}, len(packages)
    arcs: list[tuple[int, int, int]] = []  # package → class, with its cost
    for i, pkg in enumerate(packages):
        prio, lyg = sum(u.priority for u in pkg), Counter(u.last_year_group for u in pkg)
        ok = set.intersection(*(allowed[u.id] for u in pkg))
        arcs += [(i, k + j, w.repeat_pair * lyg[g] + w.late_priority * prio * (P == "r"))
                 for j, (g, P, s) in enumerate(classes) if s == len(pkg) and g in ok]
    arcs += [(k + j, k + len(classes), 0) for j in range(len(classes))]
    flow, a = min_cost_flow.SimpleMinCostFlow(), np.array(arcs, dtype=np.int64).reshape(-1, 3)
    ids = flow.add_arcs_with_capacity_and_unit_cost(a[:, 0], a[:, 1], np.array(
        [1] * (len(arcs) - len(classes)) + [len(months[c]) for c in classes]), a[:, 2])
    flow.set_nodes_supplies(np.array([*range(k), k + len(classes)]), np.array([1] * k + [-k]))
    if flow.solve() != flow.OPTIMAL:
        return None
    plan = dict(p.fixed)
    for idx in np.flatnonzero(flow.flows(ids[:len(arcs) - len(classes)])):
        g, P, s = classes[arcs[idx][1] - k]
        plan.update(dict.fromkeys((u.id for u in packages[arcs[idx][0]]), (g, months[g, P, s].pop())))
    return _polish(p, plan)


def _polish(p: Prepared, plan: Plan) -> Plan:
    """Swaps of two units of one town between group-months that save repeats or lateness (towns, sizes
    and loads stay as they are; 回避 respected)."""
    w, by_town = p.inst.weights, defaultdict(list)
    for u in p.free:
        by_town[u.town].append(u)

    def cost(u: RosterUnit, slot: tuple[int, int]) -> int:
        late = u.priority and slot[1] > Q1_LAST_MONTH
        return w.repeat_pair * (slot[0] == u.last_year_group) + w.late_priority * late

    for u in (u for units in by_town.values() for u in units if cost(u, plan[u.id])):
        for v in by_town[u.town]:
            su, sv = plan[u.id], plan[v.id]
            if sv[0] in p.allowed[u.id] and su[0] in p.allowed[v.id] and cost(u, sv) + cost(v, su) < cost(
                    u, su) + cost(v, sv):
                plan[u.id], plan[v.id] = sv, su
    return plan
