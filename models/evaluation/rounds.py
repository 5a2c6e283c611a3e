"""三张清单 of an evaluation round: 特色亮点, 问题不足 (each linked to a 整改 problem), 完善制度
(owner and due date, reminded like a problem)."""

from __future__ import annotations

import json
from datetime import date

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts.tables import Account
from models.audit import audit
from models.evaluation.tables import RULE_TO_WRITE, EvaluationRound, RoundItem
from models.rectification.tables import Problem
from models.staffing.units import Unit


async def open_round(session: AsyncSession, year: int, name: str, actor_user_id: str) -> tuple[EvaluationRound, bool]:
    """The round `year name`, created when new (True)."""
    row = (await session.exec(select(EvaluationRound).where(EvaluationRound.year == year,
                                                            EvaluationRound.name == name))).first()
    if row is not None:
        return row, False
    row = EvaluationRound(year=year, name=name, created_by=actor_user_id)
    session.add(row)
    await session.flush()
    audit(session, "evaluation.round", "evaluation_round", row.id, f"{year} {name}", actor_user_id=actor_user_id)
    return row, True


async def current_round(session: AsyncSession) -> EvaluationRound | None:
    """The newest round: items are added to it."""
    return (await session.exec(select(EvaluationRound).order_by(col(EvaluationRound.id).desc()))).first()


async def find_round(session: AsyncSession, year: int, name: str) -> EvaluationRound | None:
    return (await session.exec(select(EvaluationRound).where(EvaluationRound.year == year,
                                                             EvaluationRound.name == name))).first()


async def next_item_number(session: AsyncSession, year: int) -> str:
    prefix = f"PG-{year}-"
    last = (await session.exec(select(func.max(RoundItem.number)).where(
        col(RoundItem.number).like(prefix + "%")))).one()
    return f"{prefix}{(int(last.rsplit('-', 1)[1]) + 1) if last else 1:04d}"


async def add_item(session: AsyncSession, rnd: EvaluationRound, kind: str, content: str, actor_user_id: str, *,
                   unit_id: int | None = None, owner_user_id: str = "", owner_name: str = "",
                   due: date | None = None) -> RoundItem:
    item = RoundItem(number=await next_item_number(session, rnd.year), round_id=rnd.id, kind=kind,  # type: ignore[arg-type]
                     unit_id=unit_id, content=content, owner_user_id=owner_user_id, owner_name=owner_name, due=due)
    session.add(item)
    await session.flush()
    audit(session, "evaluation.item", "round_item", item.number, json.dumps(
        {"清单": kind, "内容": content, "负责人": owner_name, "期限": due.isoformat() if due else ""},
        ensure_ascii=False), actor_user_id=actor_user_id)
    return item


async def item_by_number(session: AsyncSession, number: str) -> RoundItem | None:
    return (await session.exec(select(RoundItem).where(RoundItem.number == number.upper()))).first()


async def link_problem(session: AsyncSession, item_id: int, problem: Problem) -> None:
    item = await session.get(RoundItem, item_id)
    if item is not None:
        item.problem_id = problem.id
        session.add(item)


async def mark_done(session: AsyncSession, item: RoundItem, today: date, actor_user_id: str, note: str = "") -> None:
    item.done_on = today
    session.add(item)
    audit(session, "evaluation.item_done", "round_item", item.number, note, actor_user_id=actor_user_id)


async def items_with_problems(session: AsyncSession, round_id: int) -> list[tuple[RoundItem, Problem | None]]:
    rows = await session.exec(select(RoundItem, Problem).outerjoin(Problem, col(Problem.id) == RoundItem.problem_id)
                              .where(RoundItem.round_id == round_id).order_by(col(RoundItem.id)))
    return list(rows.all())


async def open_rule_items(session: AsyncSession) -> list[RoundItem]:
    """完善制度 items not done yet (the reminder job walks them)."""
    rows = await session.exec(select(RoundItem).where(
        RoundItem.kind == RULE_TO_WRITE, col(RoundItem.done_on).is_(None), col(RoundItem.due).is_not(None)))
    return list(rows.all())


async def find_account(session: AsyncSession, text: str) -> Account | None:
    """An active account by DingTalk userId or by name (the owner of a 完善制度 item)."""
    rows = (await session.exec(select(Account).where(
        col(Account.active), (Account.user_id == text) | (Account.name == text)))).all()
    return rows[0] if len(rows) == 1 else None


async def unit_names(session: AsyncSession) -> dict[int, str]:
    return {i: n for i, n in (await session.exec(select(col(Unit.id), col(Unit.name)))).all() if i is not None}
