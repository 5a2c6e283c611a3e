"""Changes to warnings made from chat (the scan's own changes are in jobs/warnings.py), audited."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts.tables import Account
from models.audit import audit
from models.rectification.tables import Problem
from models.staffing.persons import Warning


async def link_problem(session: AsyncSession, *, warning_id: int, problem: Problem, actor: Account | None) -> None:
    """转整改: the warning now points at the problem made from it."""
    row = await session.get(Warning, warning_id)
    assert row is not None
    row.problem_id = problem.id
    session.add(row)
    audit(session, "warning.转整改", "warning", row.number, problem.number,
          actor_account_id=actor.id if actor else None, actor_user_id=actor.user_id if actor else "")
