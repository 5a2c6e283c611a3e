"""Changes to problems: each writes the change, its history event and its audit row in the caller's
transaction (the caller adds the notifications to the same transaction)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
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
    TODO,
    ExtensionRequest,
    Problem,
    ProblemAttachment,
    ProblemEvent,
)
from models.staffing.units import Unit

REMIND_KIND = "problem.remind"
IMPORT_ACTOR = "导入"


async def next_number(session: AsyncSession, year: int) -> str:
    """The next ZG-<year>-NNNN, after the highest of that year (an office's own numbers never count)."""
    prefix = f"ZG-{year}-"
    numbers = (await session.exec(select(Problem.number).where(col(Problem.number).like(prefix + "%")))).all()
    seqs = [int(n[len(prefix):]) for n in numbers if n[len(prefix):].isdigit()]
    return problem_number(year, max(seqs, default=0) + 1)


def _event(session: AsyncSession, problem: Problem, actor: Account | None, action: str, detail: str = "",
           *, actor_name: str = "", audited: bool = True) -> ProblemEvent:
    """The history event of a change and, unless an import audits it with its own row, its audit row."""
    assert problem.id is not None
    event = ProblemEvent(problem_id=problem.id, actor_account_id=actor.id if actor else None,
                         actor_name=(actor.name if actor else actor_name)[:50], action=action, detail=detail[:2000])
    session.add(event)
    if audited:
        audit(session, f"problem.{action}", "problem", problem.number, detail,
              actor_account_id=actor.id if actor else None, actor_user_id=actor.user_id if actor else "")
    return event


async def create_problem(
    session: AsyncSession, *, unit_id: int, source: str, description: str, requirement: str, assigned_on: date,
    deadline: date, provisional: bool, actor: Account | None, origin: str = "", number: str = "",
    status: str = TODO, imported_from: str = "",
) -> Problem:
    """交办, and a new problem of an imported ledger (`imported_from`: file and row; its history says 导入
    and the import's own audit row records it). A problem created 已销号 is closed now."""
    problem = Problem(
        number=number or await next_number(session, assigned_on.year), unit_id=unit_id, source=source,
        description=description, requirement=requirement, assigned_on=assigned_on, deadline=deadline,
        deadline_provisional=provisional, origin=origin, created_by=actor.id if actor else None,
    )
    _set_status(problem, status)
    session.add(problem)
    await session.flush()
    if imported_from:
        _event(session, problem, None, "导入", f"导入自 {imported_from}", actor_name=IMPORT_ACTOR, audited=False)
    else:
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


def _set_status(problem: Problem, status: str) -> None:
    """The status rule: `closed_at` is set when a problem becomes 已销号 and cleared when it leaves it."""
    if status != problem.status:
        problem.closed_at = utcnow() if status == CLOSED else None
    problem.status = status


async def change_status(session: AsyncSession, problem: Problem, status: str) -> None:
    """A new status (with `closed_at`); a problem under review or closed gets no more reminders."""
    _set_status(problem, status)
    _touch(session, problem)
    if status in (IN_REVIEW, CLOSED):
        await cancel_reminders(session, problem)


async def move_deadline(session: AsyncSession, problem: Problem, deadline: date, provisional: bool) -> None:
    """A new deadline: the revision moves (reminder keys carry it) and pending reminders are cancelled."""
    problem.deadline, problem.deadline_provisional = deadline, provisional
    problem.revision += 1
    _touch(session, problem)
    await cancel_reminders(session, problem)


async def report(session: AsyncSession, problem: Problem, actor: Account, text: str) -> ProblemEvent:
    """整改报告: the unit says what it did; the problem waits for the office (待销号审核)."""
    await change_status(session, problem, IN_REVIEW)
    event = _event(session, problem, actor, "整改报告", text)
    await session.flush()
    return event


async def accept(session: AsyncSession, problem: Problem, actor: Account, note: str = "") -> None:
    """销号."""
    await change_status(session, problem, CLOSED)
    _event(session, problem, actor, "销号", note)


async def send_back(session: AsyncSession, problem: Problem, actor: Account, reason: str) -> None:
    """退回: the report is not enough; reminders resume with the same deadline."""
    await change_status(session, problem, IN_PROGRESS)
    problem.revision += 1
    _event(session, problem, actor, "退回", reason)


async def pending_extension(session: AsyncSession, problem: Problem) -> ExtensionRequest | None:
    return (await session.exec(select(ExtensionRequest).where(
        ExtensionRequest.problem_id == problem.id, ExtensionRequest.status == "pending"))).first()


async def request_extension(session: AsyncSession, problem: Problem, actor: Account, new_deadline: date,
                            reason: str) -> ExtensionRequest:
    assert problem.id is not None
    req = ExtensionRequest(problem_id=problem.id, requested_deadline=new_deadline,
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
        await move_deadline(session, problem, req.requested_deadline, provisional)
        _event(session, problem, actor, "同意延期", f"期限由 {old} 改为 {req.requested_deadline}。{note}".strip())
    else:
        _event(session, problem, actor, "拒绝延期", note)


async def cancel_reminders(session: AsyncSession, problem: Problem) -> int:
    """Cancel this problem's reminders not yet claimed (same transaction as the change)."""
    result = await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.dedup_key).like(f"{REMIND_KIND}:{problem.id}:%"), col(OutboxMessage.status) == PENDING)
        .values(status=CANCELLED, last_error="problem changed")
    )
    return result.rowcount or 0


async def history(session: AsyncSession, problem: Problem) -> list[ProblemEvent]:
    return list((await session.exec(
        select(ProblemEvent).where(ProblemEvent.problem_id == problem.id).order_by(col(ProblemEvent.id)))).all())


async def open_problems(session: AsyncSession, unit_id: int | None = None) -> list[Problem]:
    query = select(Problem).where(col(Problem.status).in_(OPEN_STATUSES))
    if unit_id is not None:
        query = query.where(Problem.unit_id == unit_id)
    return list((await session.exec(query.order_by(col(Problem.deadline), col(Problem.id)))).all())


async def add_attachments(session: AsyncSession, *, problem: Problem, event: ProblemEvent,
                          files: list[dict[str, Any]]) -> None:
    """Photos and files of a 整改报告 (kind, file_name, path, size, sha256 each), kept on disk."""
    assert problem.id is not None
    for f in files:
        session.add(ProblemAttachment(problem_id=problem.id, event_id=event.id, **f))
    audit(session, "problem.附件", "problem", problem.number, json.dumps(
        {"files": [f["file_name"] for f in files]}, ensure_ascii=False))
    await session.flush()


async def import_update(session: AsyncSession, problem: Problem, *, values: dict[str, Any], where: str,
                        shown: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """An existing problem brought to an imported ledger row: the fields that changed ({field: (old, new)})
    through the same status and deadline rules as chat, and a 导入更新 history event. `shown` maps a
    changed field to its label and, for unit_id, the unit names (the import's audit row records it)."""
    changes = {k: (getattr(problem, k), v) for k, v in values.items() if getattr(problem, k) != v}
    if not changes:
        return changes
    for k, (_, v) in changes.items():
        if k not in ("status", "deadline", "deadline_provisional"):
            setattr(problem, k, v)
    if "deadline" in changes:
        await move_deadline(session, problem, values["deadline"], values.get("deadline_provisional",
                                                                              problem.deadline_provisional))
    elif "deadline_provisional" in changes:
        problem.deadline_provisional = values["deadline_provisional"]
    if "status" in changes:
        await change_status(session, problem, values["status"])
    _touch(session, problem)
    labels, names = shown["labels"], shown["units"]
    listed = []
    for k, (old, new) in changes.items():
        if k == "unit_id":
            old, new = names.get(old, old), names.get(new, new)
        listed.append(f"{labels[k]}：{_shown(old)} → {_shown(new)}")
    _event(session, problem, None, "导入更新", f"{where}：{'；'.join(listed)}", actor_name=IMPORT_ACTOR,
           audited=False)
    return changes


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, date):
        return value.isoformat()
    return str(value) if value not in ("", None) else "（空）"



async def update_freezes(session: AsyncSession, *, overdue_by_unit: dict[int, int], today: date,
                         limit: int) -> tuple[int, int]:
    """冻结 a unit while a problem is more than `limit` working days overdue; lift it when none is.
    Returns (frozen, unfrozen)."""
    frozen = unfrozen = 0
    for unit in (await session.exec(select(Unit))).all():
        should = overdue_by_unit.get(unit.id or 0, 0) > limit
        if should and unit.frozen_since is None:
            unit.frozen_since = today
            audit(session, "unit.freeze", "unit", unit.uscc, f"整改问题逾期超过 {limit} 个工作日")
            frozen += 1
        elif not should and unit.frozen_since is not None:
            unit.frozen_since = None
            audit(session, "unit.unfreeze", "unit", unit.uscc, "逾期问题已处理")
            unfrozen += 1
        else:
            continue
        session.add(unit)
    return frozen, unfrozen
