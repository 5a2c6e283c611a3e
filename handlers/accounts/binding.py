"""申请绑定 / 同意绑定 / 拒绝绑定 / 绑定申请: how a DingTalk user without an account gets one."""

from __future__ import annotations

import json

from sqlmodel import select

from bot.context import Button, Context, Incoming, Reply
from bot.importing.fields import parse_id
from bot.notify import notify_users
from bot.render import Markdown, md_code
from bot.router import Command, Router
from models import Account, BindingRequest, Unit
from models.accounts.roles import UNIT_ROLES, Right, Role, parse_roles, role_labels
from models.accounts.tables import account_by_user, accounts_with_role
from models.audit import audit
from models.base import to_local, utcnow
from models.staffing.unit_match import match_units


def usage(problem: str, usage_text: str, example: str = "") -> Reply:
    return Reply("usage.md.j2", {"problem": problem, "usage": usage_text, "example": example}, outcome="invalid")


async def request_binding(msg: Incoming, ctx: Context) -> Reply:
    """An unknown user asks for an account in a unit; administrators are told."""
    if ctx.account is not None:
        text = f"您已开通账号（{role_labels(ctx.roles)}），无需再申请。发送 帮助 查看功能。"
        return Reply("message.md.j2", {"text": text})
    if not ctx.args:
        return usage("请告诉我您所在的单位。", "申请绑定 单位名称", "申请绑定 教育局")
    async with ctx.db.write() as session:
        pending = (await session.exec(select(BindingRequest).where(
            BindingRequest.user_id == msg.user_id, BindingRequest.status == "pending"))).first()
        if pending is not None:
            return Reply("message.md.j2", {"text": f"您的绑定申请（编号 {pending.id}）正在审核中，请耐心等待。"})
        units = await match_units(session, ctx.args)
        if len(units) != 1:
            return _unit_choice(ctx.args, units)
        unit = units[0]
        req = BindingRequest(user_id=msg.user_id, nick=msg.nick[:50], unit_id=unit.id)  # type: ignore[arg-type]
        session.add(req)
        await session.flush()
        audit(session, "binding.request", "binding_request", req.id, json.dumps(
            {"unit": unit.name, "nick": msg.nick}, ensure_ascii=False), actor_user_id=msg.user_id)
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
        hint = f"没有找到单位“{text}”。请发送单位全称或常用简称，例如：申请绑定 教育局"
        return Reply("message.md.j2", {"text": hint}, outcome="not_found")
    names = "、".join(u.name for u in units)
    return Reply("message.md.j2", {"text": f"“{text}”对应多个单位：{names}。请发送更完整的名称。"},
                 outcome="invalid")


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
        req = await session.get(BindingRequest, req_id)
        if req is None:
            hint = f"没有编号为 {req_id} 的绑定申请。发送 绑定申请 查看待审核列表。"
            return Reply("message.md.j2", {"text": hint}, outcome="not_found")
        if req.status != "pending":
            done = "通过" if req.status == "approved" else "拒绝"
            return Reply("message.md.j2", {"text": f"绑定申请 #{req_id} 已被{done}，无需重复处理。"}, outcome="invalid")
        unit = await session.get(Unit, req.unit_id)
        assert unit is not None
        if approved and await account_by_user(session, req.user_id) is not None:
            text = Markdown(f"用户 {md_code(req.user_id)} 已有账号，请改用 import accounts 调整。")
            return Reply("message.md.j2", {"text": text}, outcome="invalid")
        req.status, req.reason = ("approved" if approved else "refused"), reason
        req.decided_by, req.decided_at = ctx.account.id, utcnow()
        session.add(req)
        labels = role_labels(roles or [])
        if approved:
            session.add(Account(user_id=req.user_id, name=req.nick or req.user_id, unit_id=unit.id,
                                roles=",".join(r.value for r in Role if r in (roles or []))))
        audit(session, "binding.approve" if approved else "binding.refuse", "binding_request", req.id,
              json.dumps({"roles": labels, "reason": reason}, ensure_ascii=False),
              actor_account_id=ctx.account.id, actor_user_id=msg.user_id)
        data = {"approved": approved, "unit": unit.name, "roles": labels, "reason": reason}
        await notify_users(session, ctx.services.renderer, kind="binding.result", key=str(req.id),
                           user_ids=[req.user_id], template="binding_result.md.j2", data=data)
    return Reply("binding_decided.md.j2", {"approved": approved, "id": req_id, "nick": req.nick,
                                           "unit": unit.name, "roles": labels})


async def list_bindings(msg: Incoming, ctx: Context) -> Reply:
    async with ctx.db.read() as session:
        rows = (await session.exec(
            select(BindingRequest, Unit).join(Unit).where(BindingRequest.status == "pending")
            .order_by(BindingRequest.id))).all()  # type: ignore[arg-type]
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
