"""The 下沉式走访 roster planner on generated counties, against the simple greedy planner in the same run.

Profiles (docs/roster.md): realistic — 3 % 回避 (unit-group pairs), 10 % priority units, 20 towns,
30 % of the groups blocked one month, every unit with a group last year; hard — 8 % 回避, 20 % priority,
30 towns, and half the groups also off in February. Each (instance, planner) runs in a fresh process:
peak memory is that process's peak RSS (resource.getrusage ru_maxrss, not tracemalloc: OR-Tools
allocates in C++), so it includes the Python interpreter and OR-Tools (the baseline line is a process
that only imports them). Modules are imported before the clock starts.

Run: .venv/bin/python bench/roster.py [--seeds 1,2,3] [--limit 10]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import models.visits.roster_solver  # noqa: E402, F401  (imported before timing: module loading is not planning)
from models.visits.roster import (  # noqa: E402
    RosterGroup,
    RosterInstance,
    RosterUnit,
    check_capacity,
    evaluate,
    greedy_plan,
    plan_roster,
)

PROFILES = {
    "realistic": dict(conflicts=0.03, priority=0.10, towns=20, feb_off=0.0),
    "hard": dict(conflicts=0.08, priority=0.20, towns=30, feb_off=0.5),
}
CASES = [("realistic", 150, 6), ("realistic", 373, 12), ("realistic", 2000, 60),
         ("hard", 150, 6), ("hard", 373, 12), ("hard", 2000, 64)]


def county(n_units: int, n_groups: int, seed: int, conflicts: float = 0.03, priority: float = 0.10,
           towns: int = 20, feb_off: float = 0.0, blocked_share: float = 0.3) -> RosterInstance:
    rng = random.Random(f"{n_units}-{n_groups}-{seed}")
    first = set(rng.sample(range(1, n_units + 1), round(priority * n_units)))
    units = [RosterUnit(i, f"镇{rng.randrange(towns):02d}", i in first, rng.randint(1, n_groups))
             for i in range(1, n_units + 1)]
    february = set(rng.sample(range(1, n_groups + 1), round(feb_off * n_groups)))
    groups = []
    for g in range(1, n_groups + 1):
        blocked = {rng.randint(1, 12)} if rng.random() < blocked_share else set()
        blocked |= {2} if g in february else set()
        avoid = frozenset(u for u in range(1, n_units + 1) if rng.random() < conflicts)
        groups.append(RosterGroup(g, f"第{g}组", frozenset(blocked), avoid))
    return RosterInstance(units, groups)


def instance(profile: str, n_units: int, n_groups: int, seed: int) -> RosterInstance:
    return county(n_units, n_groups, seed, **PROFILES[profile])


def one(profile: str, n_units: int, n_groups: int, seed: int, planner: str, limit: float) -> dict:
    """Runs in its own process; prints one JSON row."""
    inst = instance(profile, n_units, n_groups, seed)
    slots = sum(1 for g in inst.groups for m in inst.months if m not in g.blocked_months)
    start = time.perf_counter()
    if planner == "pipeline":
        result = plan_roster(inst, limit)
        seconds, plan = time.perf_counter() - start, result.assignments
        extra = dict(bound=result.bound, optimal=result.optimal, gap=result.gap, method=result.figures.get("method"),
                     problems=result.problems)
    else:
        plan = greedy_plan(inst)
        seconds, extra = time.perf_counter() - start, {}
    objective, figures, bad = evaluate(inst, plan)  # the independent evaluator, for both planners
    return dict(profile=profile, units=n_units, groups=n_groups, seed=seed, planner=planner, seconds=seconds,
                peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, objective=objective,
                hard_violations=bad, use=n_units / (3 * slots), **figures, **extra)


def spawn(*args: object) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", *map(str, args)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--limit", type=float, default=10.0)
    ap.add_argument("--one", nargs=6)
    args = ap.parse_args()
    if args.one:
        p, n, g, s, planner, limit = args.one
        print(json.dumps(one(p, int(n), int(g), int(s), planner, float(limit)), ensure_ascii=False, default=str))
        return
    probe = "import resource, ortools.sat.python.cp_model, models.visits.roster_solver;"
    base = subprocess.run([sys.executable, "-c", probe +
                           "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"],
                          capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip()
    print(f"baseline process (Python + OR-Tools imported): {float(base):.0f} MB peak RSS; time limit {args.limit} s;"
          f" 2 CP-SAT workers")
    bad = [RosterUnit(i, f"镇{i % 20}", False, None) for i in range(2000)]
    start = time.perf_counter()
    msg = check_capacity(RosterInstance(bad, [RosterGroup(g, f"第{g}组") for g in range(40)]))
    print(f"capacity check, 2000 units / 40 groups: {msg} ({1000 * (time.perf_counter() - start):.1f} ms)")
    header = (f"{'instance':<22}{'planner':<10}{'seed':>5}{'use':>6}{'time s':>8}{'peak MB':>9}{'hard':>6}{'obj':>6}"
              f"{'bound':>7}{'gap':>7}  {'late':>5}{'repeat':>7}{'spread':>7}{'towns':>6}  method")
    print(header)
    summary = []
    for profile, n, g in CASES:
        rows = {"pipeline": [], "greedy": []}
        for seed in [int(s) for s in args.seeds.split(",")]:
            for planner in ("pipeline", "greedy"):
                r = spawn(profile, n, g, seed, planner, args.limit)
                rows[planner].append(r)
                gap = ("opt" if r.get("optimal") else f"{100 * r['gap']:.0f}%") if planner == "pipeline" else "-"
                print(f"{profile + f' {n}x{g}':<22}{planner:<10}{seed:>5}{r['use']:>6.0%}{r['seconds']:>8.2f}"
                      f"{r['peak_mb']:>9.0f}{r['hard_violations']:>6}{r['objective']:>6}{r.get('bound', '-'):>7}"
                      f"{gap:>7}"
                      f"  {r['late_priority']:>5}{r['repeat_pairs']:>7}{r['load_spread']:>7}{r['extra_towns']:>6}"
                      f"  {r.get('method') or ''}", flush=True)
        p, q = rows["pipeline"], rows["greedy"]
        summary.append(f"{profile + f' {n}x{g}':<22} pipeline median obj "
                       f"{statistics.median(r['objective'] for r in p):>5}"
                       f", {statistics.median(r['seconds'] for r in p):.2f} s, "
                       f"{sum(r['optimal'] for r in p)}/{len(p)} proven optimal, max gap "
                       f"{max(100 * r['gap'] for r in p):.0f}%, hard {sum(r['hard_violations'] for r in p)}"
                       f" | greedy median obj {statistics.median(r['objective'] for r in q):>5},"
                       f" hard {sum(r['hard_violations'] for r in q)}")
    print("\n" + "\n".join(summary))


if __name__ == "__main__":
    main()
