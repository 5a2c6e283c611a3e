"""帮助, 我是谁, unknown commands and text normalisation, end to end through the SDK and emulator."""

from __future__ import annotations

import pytest

HELP_EXPECT = {
    # persona: (must appear, must not appear)
    "jyj_ll": (["帮助", "我是谁", "教育局"], ["同意绑定", "申请绑定"]),
    "bb_ywy1": (["帮助", "我是谁", "编办业务员"], ["同意绑定", "申请绑定"]),
    "jdy1": (["帮助", "我是谁", "监督员"], ["同意绑定", "申请绑定"]),
    "admin1": (["同意绑定", "拒绝绑定", "绑定申请", "管理员"], ["申请绑定"]),
    "newcomer1": (["申请绑定", "帮助", "还没有开通账号"], ["我是谁", "同意绑定"]),
}


@pytest.mark.parametrize("user", list(HELP_EXPECT))
async def test_help_lists_only_what_the_role_may_do(chat, user):
    reply = await chat.say(user, "帮助")
    present, absent = HELP_EXPECT[user]
    for word in present:
        assert word in reply.text, (user, word, reply.text)
    for word in absent:
        assert word not in reply.text, (user, word, reply.text)
    assert reply.msg_key == "markdown"


async def test_whoami_shows_name_roles_and_unit(chat):
    reply = await chat.say("jyj_ll", "我是谁")
    assert "王芳" in reply.text and "单位联络员" in reply.text and "示例县教育局" in reply.text


@pytest.mark.parametrize("text", ["　帮助！", "帮助。", " 帮  助 ", "HELP", "@编办监督助手 帮助", "菜单"])
async def test_tolerant_of_full_width_spaces_punctuation_and_mentions(chat, text):
    reply = await chat.say("jyj_ll", text)
    assert "您可以使用" in reply.text


async def test_unknown_command_gets_closest_commands(chat):
    reply = await chat.say("jyj_ll", "我是")
    assert "没有听懂" in reply.text and "我是谁" in reply.text and "帮助" in reply.text


async def test_command_without_right_is_refused_politely(chat):
    reply = await chat.say("jyj_ll", "同意绑定 1")
    assert "没有使用“同意绑定”的权限" in reply.text


async def test_markdown_in_user_text_is_escaped(chat):
    reply = await chat.say("jyj_ll", "**粗体** [链接](http://x)")
    assert "**粗体**" not in reply.text and "＊＊粗体＊＊" in reply.text


async def test_picture_without_text_gets_a_hint(chat, emulator):
    data = emulator.message("jyj_ll", "", msgtype="picture", content={"downloadCode": "dc1"})
    await emulator.deliver(data)
    reply = await emulator.wait_reply(data["msgId"])
    assert "图片" in reply.text and "帮助" in reply.text


async def test_group_at_message_is_answered_in_the_group(chat, emulator):
    reply = await chat.say("bb_ywy1", "我是谁", group="cid-group-1")
    assert reply.to == "cid-group-1"
    assert "李明" in reply.text


async def test_unknown_user_is_told_how_to_get_access(chat):
    reply = await chat.say("stranger9", "你好", nick="路人")
    assert "申请绑定" in reply.text and "还没有开通" in reply.text
