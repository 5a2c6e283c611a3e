"""Inbound delivery: redelivery processed once, floods, reconnects, the watchdog, and no blocking calls."""

from __future__ import annotations

import asyncio

import pytest
import requests
from sqlalchemy import func
from sqlmodel import select

from models import InboundMessage


async def count_inbound(bot, msg_id: str) -> int:
    async with bot.db.read() as s:
        return (await s.exec(select(func.count()).where(InboundMessage.msg_id == msg_id))).one()


async def test_same_message_delivered_twice_gets_one_reply(emulator, bot):
    data = emulator.message("jyj_ll", "我是谁")
    await emulator.deliver(data)  # first delivery
    await emulator.deliver(data)  # DingTalk redelivers: new frame id, same msgId
    await emulator.deliver(data, message_id="same-frame")
    await emulator.deliver(data, message_id="same-frame")
    await emulator.wait_reply(data["msgId"])
    await asyncio.sleep(0.5)
    assert len(emulator.replies_to(data["msgId"])) == 1
    assert await count_inbound(bot, data["msgId"]) == 1
    assert all(emulator.acks[m]["code"] == 200 for m in emulator.acks if m.startswith(("frame", "same")))


async def test_every_message_is_audited_with_command_and_outcome(chat, bot):
    await chat.say("jyj_ll", "帮助")
    await chat.say("jyj_ll", "同意绑定 1")
    await chat.say("stranger", "随便说说")
    await bot.dispatcher.audit.flush()  # completions are written off the reply path, in batches
    async with bot.db.read() as s:
        rows = (await s.exec(select(InboundMessage).order_by(InboundMessage.id))).all()
    got = [(r.sender_user_id, r.command, r.outcome, r.account_id is not None) for r in rows]
    assert got == [("jyj_ll", "帮助", "ok", True), ("jyj_ll", "同意绑定", "denied", True),
                   ("stranger", "", "unknown", False)]


async def test_a_flood_gets_one_polite_notice(make_bot, emulator):
    await make_bot(bot={"rate_limit_count": 5, "rate_limit_seconds": 60})
    ids = [await emulator.send_text("jyj_ll", "帮助") for _ in range(12)]
    await emulator.wait_until(lambda: sum(len(emulator.replies_to(i)) for i in ids) >= 6)
    await asyncio.sleep(0.5)
    replies = [r for i in ids for r in emulator.replies_to(i)]
    assert len(replies) == 6
    assert sum("太快" in r.text for r in replies) == 1
    other = await emulator.wait_reply(await emulator.send_text("bb_ywy1", "帮助"))  # others are not affected
    assert "您可以使用" in other.text


async def test_reconnects_after_the_socket_drops(emulator, bot):
    await emulator.drop_sockets()
    await emulator.wait_connected()
    reply = await emulator.wait_reply(await emulator.send_text("jyj_ll", "我是谁"))
    assert "王芳" in reply.text
    assert emulator.opened >= 2


async def test_watchdog_reconnects_a_silent_socket(make_bot, emulator):
    bot = await make_bot(dingtalk={"watchdog_seconds": 1.0})
    emulator.silence()
    await emulator.wait_until(lambda: emulator.opened >= 2, timeout=10)
    emulator.silence(False)
    await emulator.wait_connected()
    assert bot.stream.connections >= 2
    reply = await emulator.wait_reply(await emulator.send_text("jyj_ll", "帮助"))
    assert "您可以使用" in reply.text


async def test_server_disconnect_frame_reconnects(emulator, bot):
    await emulator.ask_disconnect()
    await emulator.wait_until(lambda: emulator.opened >= 2)
    await emulator.wait_connected()
    reply = await emulator.wait_reply(await emulator.send_text("jyj_ll", "帮助"))
    assert "您可以使用" in reply.text


async def test_connection_open_failures_are_retried(make_bot, emulator):
    from bot.emulator import Fault

    emulator.faults.inject("connections/open", Fault(status=503), times=2)
    await make_bot()
    reply = await emulator.wait_reply(await emulator.send_text("jyj_ll", "帮助"))
    assert "您可以使用" in reply.text


async def test_the_blocking_requests_library_is_never_used(monkeypatch, make_bot, emulator):
    def refuse(*_a, **_k):
        raise AssertionError("blocking requests call on the event loop")

    monkeypatch.setattr(requests.Session, "request", refuse)
    await make_bot()
    msg_id = await emulator.send_text("newcomer1", "申请绑定 教育局")
    await emulator.wait_reply(msg_id)
    await emulator.wait_push("admin1")


async def test_reply_failure_falls_back_to_a_push(emulator, bot):
    from bot.emulator import Fault

    emulator.faults.inject("sendBySession", Fault(status=502), times=3)
    await emulator.send_text("jyj_ll", "我是谁")
    [push] = await emulator.wait_push("jyj_ll")
    assert "王芳" in push.text


@pytest.mark.parametrize("fault", ["503", "429", "throttle"])
async def test_pushes_survive_dingtalk_errors(emulator, bot, fault):
    from bot.emulator import Fault

    spec = {"503": Fault(status=503), "429": Fault(status=429, retry_after=0.2),
            "throttle": Fault(status=403, code="Forbidden.AccessDenied.QpsLimitForApi")}[fault]
    emulator.faults.inject("batchSend", spec, times=2)
    await emulator.send_text("newcomer1", "申请绑定 教育局")
    pushes = await emulator.wait_push("admin1", timeout=20)
    await asyncio.sleep(0.3)
    assert len(emulator.pushes_to("admin1")) == len(pushes) == 1


async def test_flow_controlled_users_are_resent(emulator, bot):
    emulator.faults.flow_control(["admin1"], times=1)
    await emulator.send_text("newcomer1", "申请绑定 教育局")
    await emulator.wait_push("admin1", timeout=20)
    assert len(emulator.pushes_to("admin1")) == 1


async def test_expired_access_token_is_refreshed(emulator, bot):
    await emulator.wait_reply(await emulator.send_text("newcomer1", "申请绑定 教育局"))
    await emulator.wait_push("admin1")
    emulator.revoke_tokens()
    await emulator.wait_reply(await emulator.send_text("newcomer2", "申请绑定 财政局"))
    await emulator.wait_push("admin1", count=2)
