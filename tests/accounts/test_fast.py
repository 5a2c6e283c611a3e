"""Fast tier (tests/fakes.py): accounts, help and rights through the real dispatcher, no emulator."""

from __future__ import annotations


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
