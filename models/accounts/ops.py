"""Changes to accounts and binding requests: each writes its audit row in the caller's transaction."""

from __future__ import annotations

import json

from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts.roles import Role
from models.accounts.tables import Account, BindingRequest
from models.audit import audit
from models.base import utcnow
from models.staffing.units import Unit


async def request_binding(session: AsyncSession, *, user_id: str, nick: str, unit: Unit) -> BindingRequest:
    """申请绑定: an unknown DingTalk user asks for an account in `unit`."""
    assert unit.id is not None
    req = BindingRequest(user_id=user_id, nick=nick[:50], unit_id=unit.id)
    session.add(req)
    await session.flush()
    audit(session, "binding.request", "binding_request", req.id, json.dumps(
        {"unit": unit.name, "nick": nick}, ensure_ascii=False), actor_user_id=user_id)
    return req


def decide_binding(session: AsyncSession, *, request: BindingRequest, unit: Unit, actor: Account, approved: bool,
                   roles: list[Role], labels: str, reason: str) -> None:
    """同意绑定 (the account is created with `roles` in `unit`) or 拒绝绑定."""
    request.status, request.reason = ("approved" if approved else "refused"), reason
    request.decided_by, request.decided_at = actor.id, utcnow()
    session.add(request)
    if approved:
        session.add(Account(user_id=request.user_id, name=request.nick or request.user_id, unit_id=unit.id,
                            roles=",".join(r.value for r in Role if r in roles)))
    audit(session, "binding.approve" if approved else "binding.refuse", "binding_request", request.id,
          json.dumps({"roles": labels, "reason": reason}, ensure_ascii=False),
          actor_account_id=actor.id, actor_user_id=actor.user_id)
