"""The roster pipeline of docs/roster.md, behind models.visits.roster.plan_roster.

- Decomposition: loads balanced in advance give each group its month sizes; a tiny integer program
  cuts each town's units into packages (one package = one group-month) for Q1 or later; an exact
  min-cost flow gives packages to groups (回避 arcs left out, last year's group and lateness priced).
- Quick lower bound: balanced loads (spread), units only last year's group may visit, and the same
  package program with free sizes and no groups (priority lateness + extra towns together; SCIP).
- Aggregated CP-SAT, exact for these rules: unit → group booleans; per group and period (Q1 / later;
  months inside a period are interchangeable) counts of one-town packages of each size, of mixed
  package shapes (2+1, 1+1, 1+1+1, ...) and of the town pieces in them. Hinted with the best plan,
  ≤ 2 workers, told the quick bound (so it stops on meeting it); first on a few groups at a time (a
  large-neighbourhood search), then on the whole county for what time is left.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
from ortools.graph.python import min_cost_flow
from ortools.linear_solver.python import model_builder as mb
from ortools.sat.python import cp_model

from models.visits.roster import (
    Q1_LAST_MONTH,
    Prepared,
    RosterInstance,
    RosterResult,
    RosterUnit,
    balanced_loads,
    constant,
    evaluate,
    greedy_plan,
    prepare,
)

WORKERS = 2
LNS_GROUPS = 3
Plan = dict[int, tuple[int, int]]
LinearSum = cp_model.LinearExpr | int  # a CP-SAT sum (0 when empty)


def _period(month: int) -> str:
    return "q" if month <= Q1_LAST_MONTH else "r"


def _shapes(sizes: range) -> list[tuple[int, ...]]:
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
    shapes, slots = _shapes(sizes), Counter(_period(m) for _, m in p.open_slots())
    towns: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for u in p.free:
        towns[u.town][0] += 1
        towns[u.town][1] += u.priority
    m = mb.Model()
    a = {(t, P, s): m.new_int_var(0, min(n // s, slots[P]), "") for t, (n, _) in towns.items() for P in slots
         for s in sizes}
    pc = {(t, P, r): m.new_int_var(0, n // r, "") for t, (n, _) in towns.items() for P in slots for r in pieces}
    mixed = {(P, sh): m.new_int_var(0, slots[P], "") for P in slots for sh in shapes}
    y = {(g, s): m.new_int_var(0, min(k, sum(_period(mo) == "q" for mo in p.avail[g])), "")
         for g, sz in (group_sizes or {}).items() for s, k in sz.items()}
    count: dict[tuple[str, int], mb.LinearExpr | int]
    if group_sizes is None:
        count = {(P, s): m.new_int_var(0, slots[P], "") for P in slots for s in sizes}
        for P in slots:
            total = sum(count[P, s] for s in sizes)
            m.add(total == slots[P]) if strict else m.add(total <= slots[P])
    else:
        for g, sz in group_sizes.items():
            m.add(sum(y[g, s] for s in sz) == sum(_period(mo) == "q" for mo in p.avail[g]))
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


def _cut(units: list[RosterUnit], sizes: list[int], pieces: list[int]) -> tuple[list[list], list[list]]:
    out: tuple[list[list], list[list]] = ([], [])
    for lst, ks in zip(out, (sizes, pieces), strict=True):
        for k in sorted(ks, reverse=True):
            lst.append(units[:k])
            units = units[k:]
    return out


def _assemble(pure: list[list], pieces: list[list], shapes: list[tuple[int, ...]]) -> list[list]:
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


def _town_order(u: RosterUnit) -> tuple:
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
    for u in sorted(p.free, key=_town_order):
        by_town[u.town].append(u)
    packages: list[list[RosterUnit]] = []
    for P, shapes in sol["shapes"].items():
        pure: list[list[RosterUnit]] = []
        pieces: list[list[RosterUnit]] = []
        for t, units in by_town.items():
            n_q = sum(map(sum, sol["towns"].get((t, "q"), ())))
            x, y = _cut(units[:n_q] if P == "q" else units[n_q:], *sol["towns"][t, P])
            pure, pieces = pure + x, pieces + y
        packages += _assemble(pure, pieces, shapes)
    months: dict[tuple[int, str, int], list[int]] = defaultdict(list)  # (group, period, size) → months
    for g, sz in group_sizes.items():
        for P, ss in (("q", sol["q"][g]), ("r", sz - sol["q"][g])):
            for mo, s in zip([mo for mo in p.avail[g] if _period(mo) == P], sorted(ss.elements()), strict=True):
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


class _Aggregated:
    """The aggregated CP-SAT model (module docstring); `hint` takes a plan, `decode` gives one back."""

    def __init__(self, p: Prepared, strict: bool) -> None:
        self.p, w, mx = p, p.inst.weights, p.inst.max_per_slot
        self.vars: list[cp_model.IntVar] = []
        sizes, pieces = range(p.inst.min_per_slot if strict else p.lo, mx + 1), range(1, mx)
        shapes = _shapes(sizes)
        m = self.m = cp_model.CpModel()
        self.x: dict[tuple[int, int], cp_model.IntVar] = {}
        by_gt: dict[tuple[int, str], list[cp_model.IntVar]] = defaultdict(list)
        prio_gt: dict[tuple[int, str], list[cp_model.IntVar]] = defaultdict(list)
        by_g: dict[int, list[cp_model.IntVar]] = defaultdict(list)
        for u in p.free:
            for g in p.allowed[u.id]:
                v = self.x[u.id, g] = self._var(0, 1)
                by_gt[g, u.town].append(v)
                by_g[g].append(v)
                prio_gt[g, u.town] += [v] if u.priority else []
            m.add_exactly_one(self.x[u.id, g] for g in p.allowed[u.id])
        self.cells: list[tuple[int, list[int], dict, dict, dict]] = []
        into: dict[tuple[int, str], list[LinearSum]] = defaultdict(list)
        into_q: dict[tuple[int, str], list[LinearSum]] = defaultdict(list)
        extras: list[cp_model.LinearExpr] = []
        for g, months in p.avail.items():
            towns = sorted({t for g2, t in by_gt if g2 == g})
            for ms in ([mo for mo in months if _period(mo) == P] for P in "qr"):
                if not ms:
                    continue
                a = {(t, s): self._var(0, len(ms)) for t in towns for s in sizes}
                pc = {(t, r): self._var(0, mx * len(ms)) for t in towns for r in pieces}
                mixed = {sh: self._var(0, len(ms)) for sh in shapes}
                count = _sum([*a.values(), *mixed.values()])
                m.add(count == len(ms)) if strict else m.add(count <= len(ms))
                for r in pieces:
                    m.add(_sum([pc[t, r] for t in towns]) == _sum([sh.count(r) * v for sh, v in mixed.items()]))
                extras += [(len(sh) - 1) * v for sh, v in mixed.items()]
                self.cells.append((g, ms, a, pc, mixed))
                for t in towns:
                    into[g, t].append(_sum([s * a[t, s] for s in sizes] + [r * pc[t, r] for r in pieces]))
                    into_q[g, t] += into[g, t][-1:] if _period(ms[0]) == "q" else []
        for (g, t), vs in by_gt.items():
            m.add(_sum(vs) == _sum(into[g, t]))
        self.late = {(g, t): self._var(0, len(vs)) for (g, t), vs in prio_gt.items() if vs}
        for (g, t), v in self.late.items():
            m.add(v >= _sum(prio_gt[g, t]) - _sum(into_q[g, t]))
        rep = [self.x[u.id, lyg] for u in p.free if (lyg := u.last_year_group) is not None and (u.id, lyg) in self.x]
        self.hi, self.lo = self._var(0, len(p.units)), self._var(0, len(p.units))
        for g in p.active:
            m.add(self.hi >= p.group_fixed[g] + _sum(by_g[g]))
            m.add(self.lo <= p.group_fixed[g] + _sum(by_g[g]))
        self.objective = (constant(p) + w.late_priority * _sum(list(self.late.values())) + w.repeat_pair * _sum(rep)
                          + w.load_spread * (self.hi - self.lo) + w.extra_town * _sum(extras))
        m.minimize(self.objective)

    def _var(self, lb: int, ub: int) -> cp_model.IntVar:
        self.vars.append(self.m.new_int_var(lb, ub, ""))
        return self.vars[-1]

    def hint(self, plan: Plan) -> None:
        p, val = self.p, Counter[int]()
        content: dict[tuple[int, int], Counter] = defaultdict(Counter)
        prio, q1, load = Counter[tuple[int, str]](), Counter[tuple[int, str]](), Counter(p.group_fixed)
        for u in p.free:
            g, mo = plan[u.id]
            val[self.x[u.id, g].index] = 1
            content[g, mo][u.town] += 1
            load[g] += 1
            prio[g, u.town] += u.priority
            q1[g, u.town] += u.priority and _period(mo) == "q"
        for g, ms, a, pc, mixed in self.cells:
            for c in (content[g, mo] for mo in ms):
                keys = [a.get((t, n)) for t, n in c.items()] if len(c) == 1 else [
                    mixed.get(tuple(sorted(c.values(), reverse=True))), *(pc.get((t, n)) for t, n in c.items())]
                for v in (v for v in keys if v is not None):
                    val[v.index] += 1
        for (g, t), v in self.late.items():
            val[v.index] = prio[g, t] - q1[g, t]
        loads = [load[g] for g in p.active] or [0]
        val[self.hi.index], val[self.lo.index] = max(loads), min(loads)
        for v in self.vars:
            self.m.add_hint(v, val[v.index])

    def decode(self, solver: cp_model.CpSolver) -> Plan:
        p, plan = self.p, dict(self.p.fixed)
        per: dict[tuple[int, str], list[RosterUnit]] = defaultdict(list)
        for (uid, g), v in self.x.items():
            per[g, p.units[uid].town] += [p.units[uid]] if solver.value(v) else []
        for lst in per.values():
            lst.sort(key=_town_order)  # priority units first, and Q1 cells come first below
        for g, ms, a, pc, mixed in sorted(self.cells, key=lambda c: _period(c[1][0])):
            pure: list[list[RosterUnit]] = []
            pieces: list[list[RosterUnit]] = []
            for t in dict.fromkeys(t for t, _ in a):
                sizes = [s for (t2, s), v in a.items() if t2 == t for _ in range(solver.value(v))]
                parts = [r for (t2, r), v in pc.items() if t2 == t for _ in range(solver.value(v))]
                n, units = sum(sizes) + sum(parts), per[g, t]
                x, y = _cut(units[:n], sizes, parts)
                per[g, t], pure, pieces = units[n:], pure + x, pieces + y
            shapes = [sh for sh, v in mixed.items() for _ in range(solver.value(v))]
            for mo, pkg in zip(ms, _assemble(pure, pieces, shapes), strict=False):
                plan.update(dict.fromkeys((u.id for u in pkg), (g, mo)))
        return plan


def _sum(items: list) -> LinearSum:
    return cp_model.LinearExpr.sum(items) if items else 0


def _run(model: _Aggregated, seconds: float) -> tuple[cp_model.CpSolver, cp_model.CpSolverStatus]:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, seconds)
    solver.parameters.num_workers = WORKERS
    return solver, solver.solve(model.m)


def _lns(p: Prepared, strict: bool, plan: Plan, obj: int, bound: int, until: float) -> tuple[Plan, int]:
    """Large-neighbourhood search: the aggregated model re-plans the visits of a few groups at a time
    (the group with the most lateness, repeats and extra towns, and random others; loads kept within
    the current range), keeping what is better."""
    inst, rng, stall = p.inst, random.Random(0), 0
    groups = [g for g in p.groups if p.avail[g]]
    while obj > bound and stall < 3 * len(groups) and until - time.perf_counter() > 0.1:
        bad: Counter = Counter()
        seen: dict[tuple[int, int], set] = defaultdict(set)
        for uid, (g, mo) in plan.items():
            u = p.units[uid]
            bad[g] += (u.priority and mo > Q1_LAST_MONTH) + (u.last_year_group == g) + (u.town in seen[g, mo])
            seen[g, mo].add(u.town)
        first = rng.choices(groups, [1 + 3 * bad[g] for g in groups])[0]
        size = min(len(groups), LNS_GROUPS + stall // 4)  # wider when narrow ones stop paying
        pick = [first, *rng.sample([g for g in groups if g != first], size - 1)]
        model = _Aggregated(prepare(RosterInstance(
            [p.units[u] for u, (g, _) in plan.items() if g in pick], [p.groups[g] for g in pick], inst.months,
            inst.min_per_slot, inst.max_per_slot, replace(inst.weights, load_spread=0),
            {u: v for u, v in p.fixed.items() if v[0] in pick}, inst.from_month)), strict)
        model.hint(plan)
        loads = Counter(g for g, _ in plan.values())
        model.m.add(model.hi <= max(loads[g] for g in p.active))
        model.m.add(model.lo >= min(loads[g] for g in p.active))
        solver, status = _run(model, min(1.0, until - time.perf_counter()))
        stall += 1
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            new = {**plan, **model.decode(solver)}
            value, _, violations = evaluate(inst, new, allow_empty=not strict)
            if violations == 0 and value < obj:
                plan, obj, stall = new, value, 0
    return plan, obj


def solve(p: Prepared, strict: bool, start: float, limit: float, problems: list[str]) -> RosterResult:
    """The pipeline (module docstring) within `limit` seconds from `start`."""
    inst = p.inst

    def left() -> float:
        return limit - (time.perf_counter() - start)

    def result(plan: Plan, obj: int, bound: int, status: str, *notes: str) -> RosterResult:
        return RosterResult(plan, obj, bound, status == "optimal", time.perf_counter() - start, status,
                            [*problems, *notes])

    best: tuple[int, Plan, str] | None = None
    for method, make in (("decomposition", lambda: decompose(p, strict, min(1.0, left() / 4))),
                         ("greedy", lambda: greedy_plan(inst, strict))):
        plan = make()
        obj, _, bad = evaluate(inst, plan, allow_empty=not strict) if plan else (0, {}, 1)
        if plan is not None and bad == 0 and (best is None or obj < best[0]):
            best = (obj, plan, method)
    bound, parts = lower_bound(p, strict, min(1.0, max(0.05, left() / 4)))
    reserve = 0.05 + 3e-4 * len(p.free)
    if best is not None and best[0] > bound and sum(1 for g in p.avail if p.avail[g]) > LNS_GROUPS:
        plan, obj = _lns(p, strict, best[1], best[0], bound, start + limit - reserve - 0.3 * left())
        best = (obj, plan, "cp-sat lns") if obj < best[0] else best
    if (best is None or best[0] > bound) and left() - reserve > 0.05:
        model = _Aggregated(p, strict)
        if best is not None:
            model.hint(best[1])
        model.m.add(model.objective >= bound)  # the quick bound: CP-SAT stops as soon as it meets it
        solver, status = _run(model, left() - reserve)
        if status == cp_model.INFEASIBLE and strict:
            return solve(p, False, start, limit, [*problems, f"在回避和停访月份的限制下做不到每组每月至少走访"
                                                  f"{inst.min_per_slot}个单位，有些组在有些月份不安排走访"])
        if status == cp_model.INFEASIBLE:
            return result(dict(p.fixed), 0, 0, "infeasible", f"在回避、停访月份和每组每月{inst.min_per_slot}-"
                          f"{inst.max_per_slot}个单位的限制下排不出能走访全部单位的方案")
        if math.isfinite(solver.best_objective_bound):
            bound = max(bound, math.ceil(solver.best_objective_bound - 1e-6))
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            plan = model.decode(solver)
            obj, _, bad = evaluate(inst, plan, allow_empty=not strict)
            best = (obj, plan, "cp-sat") if bad == 0 and (best is None or obj < best[0]) else best
    if best is None:
        return result(dict(p.fixed), 0, bound, "infeasible", "在时限内没有找到满足全部硬性要求的方案，"
                      "请延长时限或检查回避和停访设置")
    obj, figures, bad = evaluate(inst, best[1], allow_empty=not strict)
    notes = [f"至少有{parts['late_priority']}个重点单位排不进第一季度（第一季度的名额不够或已经过去）"] * bool(
        parts["late_priority"]) + [f"{parts['repeat_pairs']}个单位只有去年的走访组能去，只能由同一组再次走访"] * bool(
        parts["repeat_pairs"])
    out = result(best[1], obj, min(bound, obj), "optimal" if obj <= bound else "feasible", *notes)
    out.figures, out.hard_violations = {**figures, "method": best[2], "empty_months_allowed": not strict}, bad
    return out
