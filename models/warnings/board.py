"""监督看板 queries for 预警: open warnings by kind and severity, and the units with the most."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import table_of
from models.staffing.persons import Warning
from models.staffing.units import Unit

W = table_of(Warning).c
U = table_of(Unit).c
LEVELS = {1: "提示", 2: "关注", 3: "严重"}


@dataclass
class UnitWarnings:
    unit_id: int
    label: str
    total: int
    severe: int


async def open_by_kind(session: AsyncSession, unit_id: int | None = None) -> dict[str, dict[int, int]]:
    """{rule: {level: open warnings}}, rules in descending order of their total."""
    where: ColumnElement[bool] = W.resolved_on.is_(None)
    if unit_id is not None:
        where = and_(where, W.unit_id == unit_id)
    rows = (await session.exec(select(W.rule, W.level, func.count()).where(where)  # type: ignore[call-overload]
                               .group_by(W.rule, W.level))).all()
    out: dict[str, dict[int, int]] = {}
    for rule, level, n in rows:
        out.setdefault(rule, {})[int(level)] = int(n)
    return dict(sorted(out.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])))


async def units_with_most(session: AsyncSession, limit: int = 10, unit_id: int | None = None) -> list[UnitWarnings]:
    where: ColumnElement[bool] = W.resolved_on.is_(None)
    if unit_id is not None:
        where = and_(where, W.unit_id == unit_id)
    total, severe = func.count(), func.sum(case((W.level >= 3, 1), else_=0))
    rows = (await session.exec(select(  # type: ignore[call-overload]
        U.id, U.short_name, U.name, total, severe,
    ).join(Unit, U.id == W.unit_id).where(where).group_by(U.id, U.short_name, U.name)
        .order_by(severe.desc(), total.desc(), U.id).limit(limit))).all()
    return [UnitWarnings(uid, short or name, int(t), int(s or 0)) for uid, short, name, t, s in rows]
