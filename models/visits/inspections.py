"""三定规定跟踪问效 years and 双随机 draws — pure Python, no database."""

from __future__ import annotations

import random


def plan_sanding(units: list[tuple[int, bool]], years: list[int]) -> dict[int, int]:
    """三定规定跟踪问效: each unit in exactly one year; counts differ by at most one (earlier years take
    the extra); priority units first, then by id."""
    if not years:
        return {}
    order = sorted(dict(units).items(), key=lambda item: (not item[1], item[0]))
    base, extra = divmod(len(order), len(years))
    plan, i = {}, 0
    for k, year in enumerate(sorted(years)):
        for uid, _ in order[i:i + base + (k < extra)]:
            plan[uid] = year
        i += base + (k < extra)
    return plan


def draw(seed: str, unit_pool: list[int], n_units: int, inspector_pool: list[str],
         n_inspectors: int, *, unit_tickets: bool = False) -> tuple[list[int], list[str]]:
    """双随机: draw units, then inspectors, with one random.Random(seed) over the pools in canonical
    order (unit ids ascending, inspector ids in string order, duplicates removed), by a partial
    Fisher–Yates shuffle (position i swaps with randrange(i, n)). Results are in the order drawn;
    the same seed and pools always give the same draw. With `unit_tickets`, a unit listed twice in the
    pool (监管异常名录: double weight) keeps two tickets and a ticket of a unit already drawn is skipped;
    a pool without repeats draws exactly as without it."""
    rng = random.Random(seed)

    def pick(pool: list, k: int, *, tickets: bool) -> list:
        items = sorted(pool) if tickets else sorted(set(pool))
        distinct = len(set(items))
        if not 0 <= k <= distinct:
            raise ValueError(f"只能从{distinct}个中抽取，不能抽{k}个")
        drawn: list = []
        i = 0
        while len(drawn) < k:
            j = rng.randrange(i, len(items))
            items[i], items[j] = items[j], items[i]
            if items[i] not in drawn:
                drawn.append(items[i])
            i += 1
        return drawn

    return (pick([int(u) for u in unit_pool], n_units, tickets=unit_tickets),
            pick([str(x) for x in inspector_pool], n_inspectors, tickets=False))
