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
         n_inspectors: int) -> tuple[list[int], list[str]]:
    """双随机: draw units, then inspectors, with one random.Random(seed) over the pools in canonical
    order (unit ids ascending, inspector ids in string order, duplicates removed), by a partial
    Fisher–Yates shuffle (position i swaps with randrange(i, n)). Results are in the order drawn;
    the same seed and pools always give the same draw."""
    rng = random.Random(seed)

    def pick(pool: list, k: int) -> list:
        items = sorted(set(pool))
        if not 0 <= k <= len(items):
            raise ValueError(f"只能从{len(items)}个中抽取，不能抽{k}个")
        for i in range(k):
            j = rng.randrange(i, len(items))
            items[i], items[j] = items[j], items[i]
        return items[:k]

    return pick([int(u) for u in unit_pool], n_units), pick([str(x) for x in inspector_pool], n_inspectors)
