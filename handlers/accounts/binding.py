"""申请绑定 / 同意绑定 / 拒绝绑定 / 绑定申请: how a DingTalk user without an account gets one."""

from __future__ import annotations

from typing import Any

from bot.context import Button, Context, Incoming, Reply
from bot.importing.fields import parse_id
from bot.notify import notify_users
from bot.router import Command, Router
from models.accounts.ops import decide_binding
from models.accounts.ops import request_binding as add_request
from models.accounts.queries import binding_request, pending_request_of, pending_requests
from models.accounts.roles import UNIT_ROLES, Right, Role, parse_roles, role_labels
from models.accounts.tables import account_by_user, accounts_with_role
from models.base import to_local
from models.staffing.queries import unit_by_id
from models.staffing.unit_match import match_units
from models.staffing.units import Unit


def status(kind: str, outcome: str = "ok", **data: Any) -> Reply:
    """A short account answer: one of the kinds of accounts_status.md.j2."""
    return Reply("accounts_status.md.j2", {"kind": kind, **data}, outcome=outcome)


def usage(problem: str, usage_text: str, example: str = "") -> Reply:
    return Reply("usage.md.j2", {"problem": problem, "usage": usage_text, "example": example}, outcome="invalid")


async def request_binding(msg: Incoming, ctx: Context) -> Reply:
    """An unknown user asks for an account in a unit; administrators are told."""
    if ctx.account is not None:
        return status("already_bound", roles=role_labels(ctx.roles))
    if not ctx.args:
        return usage("请告诉我您所在的单位。", "申请绑定 单位名称", "申请绑定 教育局")
    async with ctx.db.write() as session:
        pending = await pending_request_of(session, user_id=msg.user_id)
        if pending is not None:
            return status("pending", id=pending.id)
        units = await match_units(session, ctx.args)
        if len(units) != 1:
            return _unit_choice(ctx.args, units)
        unit = units[0]
        req = await add_request(session, user_id=msg.user_id, nick=msg.nick, unit=unit)
        admins = [a.user_id for a in await accounts_with_role(session, Role.ADMIN)]
        await notify_users(
            session, ctx.services.renderer, kind="binding.request", key=str(req.id), user_ids=admins,
            template="binding_request_admin.md.j2",
            data={"id": req.id, "nick": msg.nick, "user_id": msg.user_id, "unit": unit.name,
                  "at": to_local(req.created_at).strftime("%Y-%m-%d %H:%M")},
            buttons=[Button("同意（单位联络员）", f"同意绑定 {req.id}"), Button("拒绝", f"拒绝绑定 {req.id}")],
        )
    return Reply("binding_submitted.md.j2", {"id": req.id, "unit": unit.name, "admins": bool(admins)})


def _unit_choice(text: str, units: list[Unit]) -> Reply:
    if not units:
        return status("unit_not_found", "not_found", text=text)
    return status("ambiguous", "invalid", text=text, names="、".join(u.name for u in units))


def _parse_id(args: str) -> tuple[int | None, str]:
    head, _, rest = args.strip().lstrip("#").partition(" ")
    try:
        return parse_id(head, "申请编号"), rest.strip()
    except ValueError:
        return None, args


async def approve_binding(msg: Incoming, ctx: Context) -> Reply:
    req_id, rest = _parse_id(ctx.args)
    if req_id is None:
        return usage("请写上申请编号。", "同意绑定 编号 [角色]", "同意绑定 3 单位负责人")
    try:
        roles = parse_roles(rest) if rest else [Role.UNIT_CONTACT]
    except ValueError as e:
        return usage(str(e), "同意绑定 编号 [角色]", "同意绑定 3 单位负责人")
    if not set(roles) & UNIT_ROLES:
        problem = "绑定申请是为单位开通账号，角色应包含单位联络员或单位负责人；其他角色请通过 import accounts 开通。"
        return usage(problem, "同意绑定 编号 [角色]")
    return await _decide(msg, ctx, req_id, approved=True, roles=roles)


async def refuse_binding(msg: Incoming, ctx: Context) -> Reply:
    req_id, _ = _parse_id(ctx.args)
    if req_id is None:
        return usage("请写上申请编号。", "拒绝绑定 编号 原因", "拒绝绑定 3 非本单位人员")
    _, _, reason = ctx.raw_args.strip().lstrip("#").partition(" ")
    return await _decide(msg, ctx, req_id, approved=False, reason=reason.strip()[:200])


async def _decide(msg: Incoming, ctx: Context, req_id: int, *, approved: bool, roles: list[Role] | None = None,
                  reason: str = "") -> Reply:
    assert ctx.account is not None
    async with ctx.db.write() as session:
        req = await binding_request(session, request_id=req_id)
        if req is None:
            return status("no_request", "not_found", id=req_id)
        if req.status != "pending":
            return status("already_decided", "invalid", id=req_id,
                          done="通过" if req.status == "approved" else "拒绝")
        unit = await unit_by_id(session, unit_id=req.unit_id)
        assert unit is not None
        if approved and await account_by_user(session, req.user_id) is not None:
            return status("has_account", "invalid", user_id=req.user_id)
        labels = role_labels(roles or [])
        decide_binding(session, request=req, unit=unit, actor=ctx.account, approved=approved, roles=roles or [],
                       labels=labels, reason=reason)
        data = {"approved": approved, "unit": unit.name, "roles": labels, "reason": reason}
        await notify_users(session, ctx.services.renderer, kind="binding.result", key=str(req.id),
                           user_ids=[req.user_id], template="binding_result.md.j2", data=data)
    return Reply("binding_decided.md.j2", {"approved": approved, "id": req_id, "nick": req.nick,
                                           "unit": unit.name, "roles": labels})


async def list_bindings(msg: Incoming, ctx: Context) -> Reply:
    async with ctx.db.read() as session:
        rows = await pending_requests(session)
    requests = [{"id": r.id, "nick": r.nick, "user_id": r.user_id, "unit": u.name,
                 "at": to_local(r.created_at).strftime("%m-%d %H:%M")} for r, u in rows]
    return Reply("binding_list.md.j2", {"requests": requests})


def register(router: Router) -> None:
    router.add(Command("申请绑定", request_binding, Right.ANYONE, "申请开通账号", "申请绑定 单位名称",
                       aliases=("绑定", "申请开通"), topic="账号"))
    router.add(Command("同意绑定", approve_binding, Right.ACCOUNTS_MANAGE, "通过绑定申请", "同意绑定 编号 [角色]",
                       topic="账号管理"))
    router.add(Command("拒绝绑定", refuse_binding, Right.ACCOUNTS_MANAGE, "拒绝绑定申请", "拒绝绑定 编号 原因",
                       topic="账号管理"))
    router.add(Command("绑定申请", list_bindings, Right.ACCOUNTS_MANAGE, "查看待审核的绑定申请",
                       aliases=("待审绑定",), topic="账号管理"))
