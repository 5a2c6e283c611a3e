"""Changes to problems: each writes the change, its history event and its audit row in the caller's
transaction (the caller adds the notifications to the same transaction)."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts.tables import Account
from models.audit import audit
from models.base import utcnow
from models.outbox import CANCELLED, PENDING, OutboxMessage
from models.rectification.rules import problem_number
from models.rectification.tables import (
    CLOSED,
    IN_PROGRESS,
    IN_REVIEW,
    OPEN_STATUSES,
    ExtensionRequest,
    Problem,
    ProblemEvent,
)

REMIND_KIND = "problem.remind"


async def next_number(session: AsyncSession, year: int) -> str:
    """The next ZG-<year>-NNNN, after the highest of that year (an office's own numbers never count)."""
    prefix = f"ZG-{year}-"
    numbers = (await session.exec(select(Problem.number).where(Problem.number.like(prefix + "%")))).all()
    seqs = [int(n[len(prefix):]) for n in numbers if n[len(prefix):].isdigit()]
    return problem_number(year, max(seqs, default=0) + 1)


def _event(session: AsyncSession, problem: Problem, actor: Account | None, action: str, detail: str = "",
           *, actor_name: str = "") -> ProblemEvent:
    event = ProblemEvent(problem_id=problem.id, actor_account_id=actor.id if actor else None,  # type: ignore[arg-type]
                         actor_name=(actor.name if actor else actor_name)[:50], action=action, detail=detail[:2000])
    session.add(event)
    audit(session, f"problem.{action}", "problem", problem.number, detail,
          actor_account_id=actor.id if actor else None, actor_user_id=actor.user_id if actor else "")
    return event


async def create_problem(
    session: AsyncSession, *, unit_id: int, source: str, description: str, requirement: str, assigned_on: date,
    deadline: date, provisional: bool, actor: Account | None, origin: str = "", number: str = "",
) -> Problem:
    problem = Problem(
        number=number or await next_number(session, assigned_on.year), unit_id=unit_id, source=source,
        description=description, requirement=requirement, assigned_on=assigned_on, deadline=deadline,
        deadline_provisional=provisional, origin=origin, created_by=actor.id if actor else None,
    )
    session.add(problem)
    await session.flush()
    _event(session, problem, actor, "交办", json.dumps(
        {"来源": source, "期限": deadline.isoformat(), "暂定": provisional}, ensure_ascii=False))
    return problem


async def find_problem(session: AsyncSession, number: str, unit_id: int | None = None) -> Problem | None:
    """By number; with `unit_id`, a problem of another unit is not found (units never see others')."""
    query = select(Problem).where(Problem.number == number)
    if unit_id is not None:
        query = query.where(Problem.unit_id == unit_id)
    return (await session.exec(query)).first()


def _touch(session: AsyncSession, problem: Problem) -> None:
    problem.updated_at = utcnow()
    session.add(problem)


async def report(session: AsyncSession, problem: Problem, actor: Account, text: str) -> ProblemEvent:
    """整改报告: the unit says what it did; the problem waits for the office (待销号审核)."""
    problem.status = IN_REVIEW
    _touch(session, problem)
    await cancel_reminders(session, problem)
    event = _event(session, problem, actor, "整改报告", text)
    await session.flush()
    return event


async def accept(session: AsyncSession, problem: Problem, actor: Account, note: str = "") -> None:
    """销号."""
    problem.status, problem.closed_at = CLOSED, utcnow()
    _touch(session, problem)
    await cancel_reminders(session, problem)
    _event(session, problem, actor, "销号", note)


async def send_back(session: AsyncSession, problem: Problem, actor: Account, reason: str) -> None:
    """退回: the report is not enough; reminders resume with the same deadline."""
    problem.status = IN_PROGRESS
    problem.revision += 1
    _touch(session, problem)
    _event(session, problem, actor, "退回", reason)


async def pending_extension(session: AsyncSession, problem: Problem) -> ExtensionRequest | None:
    return (await session.exec(select(ExtensionRequest).where(
        ExtensionRequest.problem_id == problem.id, ExtensionRequest.status == "pending"))).first()


async def request_extension(session: AsyncSession, problem: Problem, actor: Account, new_deadline: date,
                            reason: str) -> ExtensionRequest:
    req = ExtensionRequest(problem_id=problem.id, requested_deadline=new_deadline,  # type: ignore[arg-type]
                           reason=reason, requested_by=actor.id)
    session.add(req)
    _event(session, problem, actor, "申请延期", f"申请延期至 {new_deadline}：{reason}")
    await session.flush()
    return req


async def decide_extension(session: AsyncSession, problem: Problem, req: ExtensionRequest, actor: Account, *,
                           approved: bool, note: str, provisional: bool) -> None:
    """同意延期 moves the deadline (and reschedules reminders); 拒绝延期 keeps it."""
    req.status, req.decided_by, req.decided_at, req.decision_note = (
        "approved" if approved else "refused"), actor.id, utcnow(), note
    session.add(req)
    if approved:
        old = problem.deadline
        problem.deadline, problem.deadline_provisional = req.requested_deadline, provisional
        problem.revision += 1
        _touch(session, problem)
        await cancel_reminders(session, problem)
        _event(session, problem, actor, "同意延期", f"期限由 {old} 改为 {req.requested_deadline}。{note}".strip())
    else:
        _event(session, problem, actor, "拒绝延期", note)


async def cancel_reminders(session: AsyncSession, problem: Problem) -> int:
    """Cancel this problem's reminders not yet claimed (same transaction as the change)."""
    result = await session.exec(  # type: ignore[call-overload]
        update(OutboxMessage)
        .where(OutboxMessage.dedup_key.like(f"{REMIND_KIND}:{problem.id}:%"), OutboxMessage.status == PENDING)
        .values(status=CANCELLED, last_error="problem changed")
    )
    return result.rowcount or 0


async def history(session: AsyncSession, problem: Problem) -> list[ProblemEvent]:
    return list((await session.exec(
        select(ProblemEvent).where(ProblemEvent.problem_id == problem.id).order_by(ProblemEvent.id))).all())


async def open_problems(session: AsyncSession, unit_id: int | None = None) -> list[Problem]:
    query = select(Problem).where(Problem.status.in_(OPEN_STATUSES))  # type: ignore[attr-defined]
    if unit_id is not None:
        query = query.where(Problem.unit_id == unit_id)
    return list((await session.exec(query.order_by(Problem.deadline, Problem.id))).all())
