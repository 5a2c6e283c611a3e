"""The roster pipeline of docs/roster.md, behind models.visits.roster.plan_roster: the better of the
decomposition and the greedy, the quick lower bound (both in models/visits/roster_decompose.py), then

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
from dataclasses import replace

from ortools.sat.python import cp_model

from models.visits.roster import (
    Q1_LAST_MONTH,
    Prepared,
    RosterInstance,
    RosterResult,
    RosterUnit,
    constant,
    evaluate,
    greedy_plan,
    prepare,
)
from models.visits.roster_decompose import (
    Plan,
    assemble,
    cut,
    decompose,
    lower_bound,
    period,
    shapes_of,
    town_order,
)

WORKERS = 2
LNS_GROUPS = 3
LinearSum = cp_model.LinearExpr | int  # a CP-SAT sum (0 when empty)



class _Aggregated:
    """The aggregated CP-SAT model (module docstring); `hint` takes a plan, `decode` gives one back."""

    def __init__(self, p: Prepared, strict: bool) -> None:
        self.p, w, mx = p, p.inst.weights, p.inst.max_per_slot
        self.vars: list[cp_model.IntVar] = []
        sizes, pieces = range(p.inst.min_per_slot if strict else p.lo, mx + 1), range(1, mx)
        shapes = shapes_of(sizes)
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
            for ms in ([mo for mo in months if period(mo) == P] for P in "qr"):
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
                    into_q[g, t] += into[g, t][-1:] if period(ms[0]) == "q" else []
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
            q1[g, u.town] += u.priority and period(mo) == "q"
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
            lst.sort(key=town_order)  # priority units first, and Q1 cells come first below
        for g, ms, a, pc, mixed in sorted(self.cells, key=lambda c: period(c[1][0])):
            pure: list[list[RosterUnit]] = []
            pieces: list[list[RosterUnit]] = []
            for t in dict.fromkeys(t for t, _ in a):
                sizes = [s for (t2, s), v in a.items() if t2 == t for _ in range(solver.value(v))]
                parts = [r for (t2, r), v in pc.items() if t2 == t for _ in range(solver.value(v))]
                n, units = sum(sizes) + sum(parts), per[g, t]
                x, y = cut(units[:n], sizes, parts)
                per[g, t], pure, pieces = units[n:], pure + x, pieces + y
            shapes = [sh for sh, v in mixed.items() for _ in range(solver.value(v))]
            for mo, pkg in zip(ms, assemble(pure, pieces, shapes), strict=False):
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
