"""The roster pipeline of docs/roster.md, behind models.roster.plan_roster.

- Decomposition: loads balanced in advance give each group its month sizes; a tiny integer program
  cuts each town's units into packages (one package = one group-month) for Q1 or later; an exact
  min-cost flow gives packages to groups (回避 arcs left out, last year's group and lateness priced).
- Lower bound: balanced loads (spread), units only last year's group may visit, and the package
  program with free sizes and no groups (priority lateness + extra towns together).
- Aggregated CP-SAT, exact for these rules: unit → group booleans; per group and period (Q1 / later,
  months inside a period are interchangeable) counts of one-town packages of each size, of mixed
  package shapes (2+1, 1+1, ...) and of the town pieces in them; months that already hold fixed
  visits are modelled one by one. It is hinted with the best plan, ≤ 2 workers.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict

import numpy as np
from ortools.graph.python import max_flow, min_cost_flow
from ortools.linear_solver.python import model_builder as mb
from ortools.sat.python import cp_model

from models.roster import Q1_LAST_MONTH, Prepared, RosterResult, RosterUnit, evaluate, greedy_plan

WORKERS = 2


def hall_check(p: Prepared) -> list[str]:
    """Max flow units → groups (room per group): names units that 回避 and blocked months leave too few places."""
    mx, groups = p.inst.max_per_slot, list(p.groups)
    n, index = len(p.free), {g: i for i, g in enumerate(groups)}
    room = [sum(max(0, mx - p.fixed_load[g, m]) for m in p.avail[g]) for g in groups]
    pairs = [(i, n + index[g]) for i, u in enumerate(p.free) for g in p.allowed[u.id]]
    src, sink = n + len(groups), n + len(groups) + 1
    flow = max_flow.SimpleMaxFlow()
    flow.add_arcs_with_capacity(
        np.array([src] * n + [a for a, _ in pairs] + [n + k for k in range(len(groups))], dtype=np.int32),
        np.array(list(range(n)) + [b for _, b in pairs] + [sink] * len(groups), dtype=np.int32),
        np.array([1] * (n + len(pairs)) + room, dtype=np.int64))
    if flow.solve(src, sink) != flow.OPTIMAL or flow.optimal_flow() >= n:
        return []
    side = set(flow.get_source_side_min_cut())
    stuck = [u.id for i, u in enumerate(p.free) if i in side]
    near = [g for k, g in enumerate(groups) if n + k in side]
    names = "、".join(p.groups[g].name for g in near[:5]) + (f"等{len(near)}个组" if len(near) > 5 else "")
    ids = "、".join(f"单位{u}" for u in stuck[:5]) + ("等" if len(stuck) > 5 else "")
    return [f"{ids}共{len(stuck)}个单位只能由{names or '很少的组'}走访（回避和停访月份所限），"
            f"这些组{p.span()}只有{sum(room[index[g]] for g in near)}个名额，排不下"]


def _shapes(sizes: range) -> list[tuple[int, ...]]:
    """Mixed packages: partitions of each size into two or more town pieces, largest piece first."""
    def parts(n: int, most: int):  # type: ignore[no-untyped-def]
        if n == 0:
            yield ()
        for k in range(min(n, most), 0, -1):
            for rest in parts(n - k, k):
                yield (k, *rest)
    return [pt for s in sizes for pt in parts(s, s) if len(pt) > 1]


def _ranges(p: Prepared, strict: bool) -> dict[int, tuple[int, int]]:
    mn, mx = p.inst.min_per_slot, p.inst.max_per_slot
    can = Counter(g for gs in p.allowed.values() for g in gs)
    out = {}
    for g in p.active:
        lo = p.group_fixed[g] + (sum(max(0, mn - p.fixed_load[g, m]) for m in p.avail[g]) if strict else 0)
        hi = p.group_fixed[g] + min(sum(max(0, mx - p.fixed_load[g, m]) for m in p.avail[g]), can[g])
        out[g] = (lo, max(lo, hi))
    return out


def balanced_loads(p: Prepared, strict: bool) -> tuple[int, dict[int, int]] | None:
    """The smallest possible (max − min) yearly load and loads that reach it."""
    rng = _ranges(p, strict)
    total = sum(p.group_fixed[g] for g in rng) + len(p.free)
    if not rng:
        return 0, {}
    top = max(hi for _, hi in rng.values())
    for d in range(top + 1):
        for low in range(max(lo for lo, _ in rng.values()) - d, min(hi for _, hi in rng.values()) + 1):
            a = {g: max(lo, low) for g, (lo, _) in rng.items()}
            b = {g: min(hi, low + d) for g, (_, hi) in rng.items()}
            if sum(a.values()) <= total <= sum(b.values()):
                left = total - sum(a.values())
                while left:
                    g = min((g for g in a if a[g] < b[g]), key=lambda g: (a[g], -b[g], g))
                    a[g] += 1
                    left -= 1
                return d, a
    return None


def _period(month: int) -> str:
    return "q" if month <= Q1_LAST_MONTH else "r"


def _composition(p: Prepared, strict: bool, group_sizes: dict[int, Counter] | None, limit: float):
    """Towns → packages for Q1 ("q") and later ("r"), minimising priority lateness + extra towns, groups
    ignored. `group_sizes` None: package sizes are free (a lower bound); else they must match the
    groups' planned month sizes (size 0 = an empty month), each group choosing which go in Q1."""
    inst, w = p.inst, p.inst.weights
    mx, low = inst.max_per_slot, inst.min_per_slot if strict else p.lo
    sizes, pieces = range(low, mx + 1), range(1, mx)
    shapes = _shapes(sizes)
    slots = Counter(_period(m) for _, m in p.open_slots())
    towns: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for u in p.free:
        towns[u.town][0] += 1
        towns[u.town][1] += u.priority
    m = mb.Model()
    a = {(t, P, s): m.new_int_var(0, min(n // s, slots[P]), "") for t, (n, _) in towns.items() for P in slots
         for s in sizes}
    pc = {(t, P, r): m.new_int_var(0, n // r, "") for t, (n, _) in towns.items() for P in slots for r in pieces}
    mixed = {(P, sh): m.new_int_var(0, slots[P], "") for P in slots for sh in shapes}
    y: dict[tuple[int, int], mb.Variable] = {}
    if group_sizes is None:
        count = {(P, s): m.new_int_var(0, slots[P], "") for P in slots for s in sizes}
        for P in slots:
            total = sum(count[P, s] for s in sizes)
            m.add(total == slots[P]) if strict else m.add(total <= slots[P])
    else:
        for g, sz in group_sizes.items():
            q = sum(1 for mo in p.avail[g] if _period(mo) == "q")
            for s, k in sz.items():
                y[g, s] = m.new_int_var(0, min(k, q), "")
            m.add(sum(y[g, s] for s in sz) == q)
        count = {("q", s): sum(v for (g, s2), v in y.items() if s2 == s) for s in sizes}
        count.update({("r", s): sum(group_sizes[g][s] for g in group_sizes) - count["q", s] for s in sizes})
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
            lv = m.new_int_var(0, prio, "")
            if "q" in per:
                m.add(lv >= prio - per["q"])
                m.add(lv >= prio - prio * seen["q"])
            else:
                m.add(lv == prio)
            late.append(lv)
    m.minimize(w.late_priority * sum(late) + w.extra_town * sum((len(sh) - 1) * v for (_, sh), v in mixed.items()))
    solver = mb.Solver("SCIP" if mb.Solver("SCIP").solver_is_supported() else "HIGHS")
    solver.set_time_limit_in_seconds(max(0.05, limit))
    status = solver.solve(m)
    step = math.gcd(w.late_priority, w.extra_town) or 1
    bound = solver.best_objective_bound if status in (mb.SolveStatus.OPTIMAL, mb.SolveStatus.FEASIBLE) else 0
    bound = step * math.ceil(bound / step - 1e-6) if math.isfinite(bound) else 0
    if status not in (mb.SolveStatus.OPTIMAL, mb.SolveStatus.FEASIBLE):
        return status, None, bound

    def val(v) -> int:  # type: ignore[no-untyped-def]
        return round(solver.value(v))

    sol = {"towns": {(t, P): ([s for s in sizes for _ in range(val(a[t, P, s]))],
                              [r for r in pieces for _ in range(val(pc[t, P, r]))]) for t in towns for P in slots},
           "shapes": {P: [sh for sh in shapes for _ in range(val(mixed[P, sh]))] for P in slots},
           "q": {g: Counter({s: val(v) for (g2, s), v in y.items() if g2 == g}) for g in (group_sizes or {})}}
    return status, sol, bound


def constant(p: Prepared) -> int:
    """The objective of the fixed visits alone (their lateness, repeats and extra towns)."""
    w = p.inst.weights
    late = sum(p.units[u].priority and m > Q1_LAST_MONTH for u, (_, m) in p.fixed.items())
    rep = sum(p.units[u].last_year_group == g for u, (g, _) in p.fixed.items())
    return w.late_priority * late + w.repeat_pair * rep + w.extra_town * sum(len(t) - 1 for t in p.fixed_towns.values())


def lower_bound(p: Prepared, strict: bool, limit: float = 1.0) -> tuple[int, dict[str, int]]:
    w, mx = p.inst.weights, p.inst.max_per_slot
    loads = balanced_loads(p, strict)
    parts = {"load_spread": loads[0] if loads else 0,
             "repeat_pairs": sum(1 for u in p.free if p.allowed[u.id] == [u.last_year_group])}
    q1_room = sum(max(0, mx - p.fixed_load[g, m]) for g, m in p.open_slots() if m <= Q1_LAST_MONTH)
    q1_groups = {g for g, m in p.open_slots() if m <= Q1_LAST_MONTH}
    prio = [u for u in p.free if u.priority]
    stuck = sum(1 for u in prio if not q1_groups & set(p.allowed[u.id]))
    parts["late_priority"] = stuck + max(0, len(prio) - stuck - q1_room)
    joint = 0
    if not p.partial() and p.free:
        _, _, joint = _composition(p, strict, None, limit)
    bound = constant(p) + w.load_spread * parts["load_spread"] + w.repeat_pair * parts["repeat_pairs"] + max(
        joint, w.late_priority * parts["late_priority"])
    return bound, parts


def _cut(units: list[RosterUnit], sizes: list[int], pieces: list[int]) -> tuple[list[list], list[list]]:
    units, out = list(units), ([], [])
    for k, lst in ((sorted(sizes, reverse=True), out[0]), (sorted(pieces, reverse=True), out[1])):
        for s in k:
            lst.append(units[:s])
            units = units[s:]
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
            if not towns:
                continue
            t = max(towns, key=lambda t: (t not in used, len(pool[r][t]), t))
            used.add(t)
            pkg += pool[r][t].pop()
        out.append(pkg)
    out += [pc for by in pool.values() for lst in by.values() for pc in lst]  # only if counts disagreed
    return [pkg for pkg in out if pkg]


def _town_order(u: RosterUnit) -> tuple:
    return (not u.priority, u.last_year_group if u.last_year_group is not None else -1, u.id)


def decompose(p: Prepared, strict: bool, limit: float = 1.0) -> dict[int, tuple[int, int]] | None:
    if p.partial() or not p.free:
        return None
    inst, w = p.inst, p.inst.weights
    mx, low = inst.max_per_slot, inst.min_per_slot if strict else p.lo
    loads = balanced_loads(p, strict)
    if loads is None:
        return None
    group_sizes: dict[int, Counter] = {}
    for g, months in p.avail.items():
        if not months:
            continue
        f, n = loads[1].get(g, p.group_fixed[g]) - p.group_fixed[g], len(months)
        e = 0 if f == 0 else (n if strict else max(math.ceil(f / mx), min(n, f // low)))
        if e > n or (e and not low * e <= f <= mx * e):
            return None
        base, k = divmod(f, e) if e else (0, 0)
        group_sizes[g] = +Counter({base: e - k, base + 1: k, 0: n - e}) or Counter({0: n})
    _, sol, _ = _composition(p, strict, group_sizes, limit)
    if sol is None:
        return None
    by_town: dict[str, list[RosterUnit]] = defaultdict(list)
    for u in sorted(p.free, key=_town_order):
        by_town[u.town].append(u)
    packages: list[tuple[str, list]] = []
    for P, shapes in sol["shapes"].items():
        pure, pieces = [], []
        for t, units in by_town.items():
            sizes_q, pieces_q = sol["towns"].get((t, "q"), ([], []))
            n_q = sum(sizes_q) + sum(pieces_q)
            mine = units[:n_q] if P == "q" else units[n_q:]
            a, b = _cut(mine, *sol["towns"][t, P])
            pure += a
            pieces += b
        packages += [(P, pkg) for pkg in _assemble(pure, pieces, shapes)]
    months: dict[tuple[int, str, int], list[int]] = defaultdict(list)  # (group, period, size) → months
    for g, sz in group_sizes.items():
        q_sizes = sorted((s for s, k in sol["q"][g].items() for _ in range(k)), reverse=True)
        r_sizes = sorted((sz - sol["q"][g]).elements(), reverse=True)
        for P, ss in (("q", q_sizes), ("r", r_sizes)):
            for mo, s in zip([mo for mo in p.avail[g] if _period(mo) == P], ss, strict=True):
                if s:
                    months[g, P, s].append(mo)
    classes = list(months)
    allowed = {u.id: set(p.allowed[u.id]) for u in p.free}
    starts, ends, caps, costs = [], [], [], []
    k = len(packages)
    for i, (_, pkg) in enumerate(packages):
        prio = sum(u.priority for u in pkg)
        lyg = Counter(u.last_year_group for u in pkg)
        ok = set.intersection(*(allowed[u.id] for u in pkg))
        for j, (g, P, s) in enumerate(classes):
            if s == len(pkg) and g in ok:
                starts.append(i)
                ends.append(k + j)
                costs.append(w.repeat_pair * lyg[g] + (w.late_priority * prio if P == "r" else 0))
    caps = [1] * len(starts) + [len(months[c]) for c in classes]
    sink = k + len(classes)
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        np.array(starts + [k + j for j in range(len(classes))], dtype=np.int32),
        np.array(ends + [sink] * len(classes), dtype=np.int32), np.array(caps, dtype=np.int64),
        np.array(costs + [0] * len(classes), dtype=np.int64))
    flow.set_nodes_supplies(np.array([*range(k), sink], dtype=np.int32),
                            np.array([1] * k + [-k], dtype=np.int64))
    if flow.solve() != flow.OPTIMAL:
        return None
    plan = dict(p.fixed)
    for idx in np.flatnonzero(flow.flows(arcs[:len(starts)])):
        g, P, s = classes[ends[idx] - k]
        mo = months[g, P, s].pop()
        for u in packages[starts[idx]][1]:
            plan[u.id] = (g, mo)
    return plan


class _Aggregated:
    """The aggregated CP-SAT model (module docstring); `hint` takes a plan, `decode` gives one back."""

    def __init__(self, p: Prepared, strict: bool) -> None:
        self.p, inst, self.vars = p, p.inst, []
        w, mx, mn = inst.weights, inst.max_per_slot, inst.min_per_slot
        sizes, pieces = range(mn if strict else p.lo, mx + 1), range(1, mx)
        shapes = _shapes(sizes)
        m = self.m = cp_model.CpModel()
        self.x: dict[tuple[int, int], cp_model.IntVar] = {}
        by_gt, prio_gt, by_g, towns_of = defaultdict(list), defaultdict(list), defaultdict(list), defaultdict(set)
        for u in p.free:
            for g in p.allowed[u.id]:
                v = self.x[u.id, g] = self._var(0, 1)
                by_gt[g, u.town].append(v)
                by_g[g].append(v)
                towns_of[g].add(u.town)
                if u.priority:
                    prio_gt[g, u.town].append(v)
            m.add_exactly_one(self.x[u.id, g] for g in p.allowed[u.id])
        self.cells: list[tuple[int, list[int], tuple]] = []
        into, into_q, extras = defaultdict(list), defaultdict(list), []
        for g, months in p.avail.items():
            towns = sorted(towns_of[g])
            for ms in ([mo for mo in months if not p.fixed_load[g, mo] and _period(mo) == P] for P in "qr"):
                if not ms:
                    continue
                n = len(ms)
                a = {(t, s): self._var(0, n) for t in towns for s in sizes}
                pc = {(t, r): self._var(0, mx * n) for t in towns for r in pieces}
                mixed = {sh: self._var(0, n) for sh in shapes}
                count = _sum([*a.values(), *mixed.values()])
                m.add(count == n) if strict else m.add(count <= n)
                for r in pieces:
                    m.add(_sum([pc[t, r] for t in towns]) == _sum([sh.count(r) * v for sh, v in mixed.items()]))
                extras += [(len(sh) - 1) * v for sh, v in mixed.items()]
                self.cells.append((g, ms, (a, pc, mixed)))
                for t in towns:
                    part = _sum([s * a[t, s] for s in sizes] + [r * pc[t, r] for r in pieces])
                    into[g, t].append(part)
                    into_q[g, t] += [part] if _period(ms[0]) == "q" else []
            for mo in (mo for mo in months if p.fixed_load[g, mo]):
                room, have = max(0, mx - p.fixed_load[g, mo]), p.fixed_towns[g, mo]
                wv = {t: self._var(0, room) for t in towns}
                new = {t: self._var(0, 1) for t in towns if t not in have}
                for t, b in new.items():
                    m.add(wv[t] <= room * b)
                extras += list(new.values())
                m.add(_sum(list(wv.values())) <= room)
                if strict:
                    m.add(_sum(list(wv.values())) >= max(0, mn - p.fixed_load[g, mo]))
                self.cells.append((g, [mo], (wv, new)))
                for t in towns:
                    into[g, t].append(wv[t])
                    into_q[g, t] += [wv[t]] if _period(mo) == "q" else []
        for (g, t), vs in by_gt.items():
            m.add(_sum(vs) == _sum(into[g, t]))
        self.late = {}
        for (g, t), vs in prio_gt.items():
            self.late[g, t] = self._var(0, len(vs))
            m.add(self.late[g, t] >= _sum(vs) - _sum(into_q[g, t]))
        rep = [self.x[u.id, u.last_year_group] for u in p.free if (u.id, u.last_year_group) in self.x]
        self.hi, self.lo = self._var(0, len(p.units)), self._var(0, len(p.units))
        for g in p.active:
            m.add(self.hi >= p.group_fixed[g] + _sum(by_g[g]))
            m.add(self.lo <= p.group_fixed[g] + _sum(by_g[g]))
        self.objective = (constant(p) + w.late_priority * _sum(list(self.late.values())) + w.repeat_pair * _sum(rep)
                          + w.load_spread * (self.hi - self.lo) + w.extra_town * _sum(extras))
        m.minimize(self.objective)

    def _var(self, lb: int, ub: int) -> cp_model.IntVar:
        v = self.m.new_int_var(lb, ub, "")
        self.vars.append(v)
        return v

    def hint(self, plan: dict[int, tuple[int, int]]) -> None:
        p, val = self.p, {}
        for (uid, g), v in self.x.items():
            val[v.index] = int(plan[uid][0] == g)
        content: dict[tuple[int, int], Counter] = defaultdict(Counter)
        prio, q1, load = Counter(), Counter(), Counter(p.group_fixed)
        for u in p.free:
            g, mo = plan[u.id]
            content[g, mo][u.town] += 1
            load[g] += 1
            prio[g, u.town] += u.priority
            q1[g, u.town] += _period(mo) == "q"
        for g, ms, cell in self.cells:
            if len(cell) == 2:
                for t, v in cell[0].items():
                    val[v.index] = content[g, ms[0]][t]
                for t, v in cell[1].items():
                    val[v.index] = int(content[g, ms[0]][t] > 0)
                continue
            a, pc, mixed = cell
            for c in (content[g, mo] for mo in ms):
                keys = [a.get((t, n)) for t, n in c.items()] if len(c) == 1 else [mixed.get(tuple(sorted(
                    c.values(), reverse=True)))] + [pc.get((t, n)) for t, n in c.items()]
                for v in keys:
                    if v is not None:
                        val[v.index] = val.get(v.index, 0) + 1
        for (g, t), v in self.late.items():
            val[v.index] = max(0, prio[g, t] - q1[g, t])
        loads = [load[g] for g in p.active] or [0]
        val[self.hi.index], val[self.lo.index] = max(loads), min(loads)
        for v in self.vars:
            self.m.add_hint(v, val.get(v.index, 0))

    def decode(self, solver: cp_model.CpSolver) -> dict[int, tuple[int, int]]:
        p, plan = self.p, dict(self.p.fixed)
        per: dict[tuple[int, str], list[RosterUnit]] = defaultdict(list)
        for (uid, g), v in self.x.items():
            if solver.value(v):
                per[g, p.units[uid].town].append(p.units[uid])
        for lst in per.values():
            lst.sort(key=_town_order)
        taken: Counter = Counter()

        def take(g: int, t: str, k: int) -> list[RosterUnit]:
            taken[g, t] += k
            return per[g, t][taken[g, t] - k:taken[g, t]]

        for g, ms, cell in sorted(self.cells, key=lambda c: _period(c[1][0])):  # Q1 first: priority units
            if len(cell) == 2:
                for t, v in cell[0].items():
                    for u in take(g, t, solver.value(v)):
                        plan[u.id] = (g, ms[0])
                continue
            a, pc, mixed = cell
            pure, pieces = [], []
            for t in dict.fromkeys(t for t, _ in a):
                sizes = [s for (t2, s), v in a.items() if t2 == t for _ in range(solver.value(v))]
                parts = [r for (t2, r), v in pc.items() if t2 == t for _ in range(solver.value(v))]
                x, y = _cut(take(g, t, sum(sizes) + sum(parts)), sizes, parts)
                pure += x
                pieces += y
            shapes = [sh for sh, v in mixed.items() for _ in range(solver.value(v))]
            for mo, pkg in zip(ms, _assemble(pure, pieces, shapes), strict=False):
                for u in pkg:
                    plan[u.id] = (g, mo)
        return plan


def _sum(items: list) -> cp_model.LinearExprT:
    return cp_model.LinearExpr.sum(items) if items else 0


def _bound(solver: cp_model.CpSolver) -> int:
    b = solver.best_objective_bound
    return math.ceil(b - 1e-6) if math.isfinite(b) else 0


def solve(p: Prepared, strict: bool, start: float, limit: float, problems: list[str]) -> RosterResult:
    """The pipeline (module docstring) within `limit` seconds from `start`."""
    inst = p.inst

    def left() -> float:
        return limit - (time.perf_counter() - start)

    best: tuple[int, dict, str] | None = None
    for method, make in (("decomposition", lambda: decompose(p, strict, min(1.0, left() / 4))),
                         ("greedy", lambda: greedy_plan(inst, strict))):
        plan = make()
        if plan is not None:
            obj, _, bad = evaluate(inst, plan, allow_empty=not strict)
            if bad == 0 and (best is None or obj < best[0]):
                best = (obj, plan, method)
    bound, parts = lower_bound(p, strict, min(1.0, max(0.05, left() / 4)))
    reserve = 0.05 + 3e-4 * len(p.free)
    if (best is None or best[0] > bound) and left() - reserve > 0.05:
        model = _Aggregated(p, strict)
        if best is not None:
            model.hint(best[1])
        model.m.add(model.objective >= bound)  # the quick bound: CP-SAT stops as soon as it meets it
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(0.05, left() - reserve)
        solver.parameters.num_workers = WORKERS
        status = solver.solve(model.m)
        if status == cp_model.INFEASIBLE and strict:
            return solve(p, False, start, limit, [*problems, f"在回避和停访月份的限制下做不到每组每月至少走访"
                                                  f"{inst.min_per_slot}个单位，有些组在有些月份不安排走访"])
        if status == cp_model.INFEASIBLE:
            return RosterResult(dict(p.fixed), 0, 0, False, time.perf_counter() - start, "infeasible",
                                [*problems, "在回避和停访月份的限制下排不出能走访全部单位的方案"])
        bound = max(bound, _bound(solver))
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            plan = model.decode(solver)
            obj, _, bad = evaluate(inst, plan, allow_empty=not strict)
            if bad == 0 and (best is None or obj < best[0]):
                best = (obj, plan, "cp-sat")
    if best is None:
        return RosterResult(dict(p.fixed), 0, bound, False, time.perf_counter() - start, "infeasible",
                            [*problems, "在时限内没有找到满足全部硬性要求的方案，请延长时限或检查回避和停访设置"])
    obj, figures, bad = evaluate(inst, best[1], allow_empty=not strict)
    bound = min(bound, obj)
    figures.update(method=best[2], empty_months_allowed=not strict)
    if parts["late_priority"]:
        problems.append(f"至少有{parts['late_priority']}个重点单位排不进第一季度（第一季度的名额不够或已经过去）")
    if parts["repeat_pairs"]:
        problems.append(f"{parts['repeat_pairs']}个单位只有去年的走访组能去，只能由同一组再次走访")
    return RosterResult(best[1], obj, bound, obj <= bound, time.perf_counter() - start,
                        "optimal" if obj <= bound else "feasible", problems, figures, bad)
