"""Fast tier (tests/fakes.py): accounts, help and rights through the real dispatcher, no emulator."""

from __future__ import annotations

from sqlmodel import select

from models.accounts.ops import request_binding
from models.accounts.queries import binding_request, pending_request_of
from models.accounts.tables import account_by_user
from models.audit import AuditEvent
from models.staffing.unit_match import match_units


async def test_whoami_names_the_unit(fast):
    answer = await fast.say("jyj_ll", "我是谁")
    assert answer.command == "我是谁" and "王芳" in answer.text and "教育局" in answer.text


async def test_help_lists_only_what_the_role_may_use(fast):
    unit = (await fast.say("jyj_ll", "帮助")).text
    office = (await fast.say("bb_ywy1", "帮助")).text
    assert "交办" not in unit and "交办" in office
    assert "整改" in unit


async def test_stranger_is_told_how_to_apply(fast):
    answer = await fast.say("nobody", "我是谁")
    assert answer.outcome in ("denied", "unknown") and "申请绑定" in answer.text


async def test_a_unit_contact_is_refused_an_office_command(fast):
    answer = await fast.say("jyj_ll", "交办 财政局 巡察 15个工作日 超编")
    assert answer.outcome == "denied"


# --- 申请绑定 / 同意绑定 / 拒绝绑定 after the move to models/accounts (queries.py, ops.py) and real templates ------

async def _request(fast, user: str) -> int:
    submitted = await fast.say(user, "申请绑定 教育局")
    assert submitted.outcome == "ok", submitted.text
    async with fast.services.db.read() as session:
        pending = await pending_request_of(session, user_id=user)
    assert pending is not None and pending.id is not None
    return pending.id


async def test_binding_answers_keep_their_exact_wording(fast):
    bound = await fast.say("jyj_ll", "申请绑定 教育局")
    assert bound.reply.template == "accounts_status.md.j2"
    assert bound.text == "您已开通账号（单位联络员），无需再申请。发送 帮助 查看功能。"
    unknown = await fast.say("newbie", "申请绑定 火星局")
    assert unknown.outcome == "not_found"
    assert unknown.text == "没有找到单位“火星局”。请发送单位全称或常用简称，例如：申请绑定 教育局"
    req_id = await _request(fast, "newbie")
    again = await fast.say("newbie", "申请绑定 财政局")
    assert again.text == f"您的绑定申请（编号 {req_id}）正在审核中，请耐心等待。"
    missing = await fast.say("admin1", "同意绑定 999")
    assert missing.outcome == "not_found"
    assert missing.text == "没有编号为 999 的绑定申请。发送 绑定申请 查看待审核列表。"
    listed = await fast.say("admin1", "绑定申请")
    assert "newbie" in listed.text
    approved = await fast.say("admin1", f"同意绑定 {req_id}")
    assert approved.outcome == "ok" and approved.reply.template == "binding_decided.md.j2"
    twice = await fast.say("admin1", f"拒绝绑定 {req_id} 重复")
    assert twice.outcome == "invalid" and twice.text == f"绑定申请 ＃{req_id} 已被通过，无需重复处理。"
    me = await fast.say("newbie", "我是谁")
    assert me.command == "我是谁" and "教育局" in me.text


async def test_approving_a_user_who_has_an_account_is_refused_and_audited_nothing(fast):
    async with fast.services.db.write() as session:
        unit = (await match_units(session, "教育局"))[0]
        req = await request_binding(session, user_id="czj_ll", nick="张伟", unit=unit)
    async with fast.services.db.read() as session:
        audits = len((await session.exec(select(AuditEvent))).all())
    answer = await fast.say("admin1", f"同意绑定 {req.id}")
    assert answer.outcome == "invalid" and answer.text == "用户 `czj_ll` 已有账号，请改用 import accounts 调整。"
    async with fast.services.db.read() as session:
        assert len((await session.exec(select(AuditEvent))).all()) == audits
        request = await binding_request(session, request_id=req.id)
    assert request is not None and request.status == "pending"


async def test_refusal_is_recorded_by_the_model_with_its_audit_row(fast):
    req_id = await _request(fast, "newbie2")
    refused = await fast.say("admin1", f"拒绝绑定 {req_id} 非本单位人员")
    assert refused.outcome == "ok"
    async with fast.services.db.read() as session:
        request = await binding_request(session, request_id=req_id)
        audit = (await session.exec(select(AuditEvent).where(AuditEvent.action == "binding.refuse"))).one()
        account = await account_by_user(session, "newbie2")
    assert request is not None and (request.status, request.reason) == ("refused", "非本单位人员")
    assert audit.entity_id == str(req_id) and audit.actor_user_id == "admin1" and account is None
