"""申请绑定 → administrators told → 同意/拒绝绑定 → applicant told, end to end."""

from __future__ import annotations

import re

from sqlmodel import select

from models import Account, AuditEvent, BindingRequest


async def test_binding_approved_end_to_end(chat, emulator, bot):
    first = await chat.say("newbie", "在吗", nick="钱多多")
    assert "申请绑定" in first.text

    submitted = await chat.say("newbie", "申请绑定 教育句", nick="钱多多")  # a typo still finds 教育局
    assert "已提交绑定申请" in submitted.text and "示例县教育局" in submitted.text

    [push] = await emulator.wait_push("admin1")
    assert "钱多多" in push.text and "示例县教育局" in push.text
    commands = [url for _title, url in push.buttons]
    assert any("%E5%90%8C%E6%84%8F%E7%BB%91%E5%AE%9A" in u for u in commands)  # 同意绑定, a dtmd link
    req_id = re.search(r"绑定申请 #(\d+)", push.text).group(1)

    again = await chat.say("newbie", "申请绑定 教育局")
    assert "正在审核中" in again.text

    decided = await chat.say("admin1", f"同意绑定 {req_id}")
    assert "已同意" in decided.text
    [result] = await emulator.wait_push("newbie")
    assert "已通过" in result.text and "单位联络员" in result.text

    me = await chat.say("newbie", "我是谁")
    assert "钱多多" in me.text and "示例县教育局" in me.text

    twice = await chat.say("admin1", f"同意绑定 {req_id}")
    assert "无需重复处理" in twice.text
    async with bot.db.read() as s:
        account = (await s.exec(select(Account).where(Account.user_id == "newbie"))).one()
        assert account.role_codes == ["unit_contact"]
        actions = [e.action for e in (await s.exec(select(AuditEvent).where(
            AuditEvent.entity == "binding_request"))).all()]
    assert actions == ["binding.request", "binding.approve"]


async def test_binding_refused_with_reason(chat, emulator, bot):
    await chat.say("newbie2", "申请绑定 县卫健", nick="孙小小")
    [push] = await emulator.wait_push("admin1")
    req_id = re.search(r"绑定申请 #(\d+)", push.text).group(1)
    reply = await chat.say("admin1", f"拒绝绑定 {req_id} 非本单位人员，请找单位联络员")
    assert "已拒绝" in reply.text
    [result] = await emulator.wait_push("newbie2")
    assert "未通过" in result.text and "非本单位人员，请找单位联络员" in result.text
    async with bot.db.read() as s:
        req = (await s.exec(select(BindingRequest))).one()
    assert req.status == "refused"


async def test_ambiguous_or_unknown_unit_is_explained(chat):
    unknown = await chat.say("newbie3", "申请绑定 火星局")
    assert "没有找到单位“火星局”" in unknown.text
    empty = await chat.say("newbie3", "申请绑定")
    assert "用法" in empty.text


async def test_binding_commands_validate_arguments(chat):
    assert "用法" in (await chat.say("admin1", "同意绑定")).text
    assert "没有编号为 99" in (await chat.say("admin1", "同意绑定 99")).text
    assert "未知角色" in (await chat.say("admin1", "同意绑定 1 局长")).text
    listing = await chat.say("admin1", "绑定申请")
    assert "没有待审核" in listing.text


async def test_existing_account_need_not_apply(chat):
    reply = await chat.say("jyj_ll", "申请绑定 教育局")
    assert "无需再申请" in reply.text


async def test_user_ids_are_shown_unaltered(chat, emulator, bot):
    """An ID is shown where it is the point, exactly as DingTalk spells it (not `jyj＿ll`)."""
    me = await chat.say("jyj_ll", "我是谁")
    assert "`jyj_ll`" in me.text and "＿" not in me.text
    await chat.say("new_comer_3", "申请绑定 教育局", nick="钱多多")
    [push] = await emulator.wait_push("admin1")
    assert "`new_comer_3`" in push.text
    listing = await chat.say("admin1", "绑定申请")
    assert "`new_comer_3`" in listing.text and "＿" not in listing.text
