"""Two bot processes on one database (issue 14: the way to grow). DingTalk spreads an app's messages
over its Stream connections and may deliver one message on both: both instances answer their share,
nothing is answered twice, and a reminder scan run by both queues each reminder once."""

from __future__ import annotations

import asyncio

from sqlmodel import func, select

from models import OutboxMessage
from models.rectification.ops import REMIND_KIND
from tests.conftest import FakeClock, beijing


async def test_two_instances_share_the_messages_and_answer_each_once(make_bot, emulator):
    first, second = await make_bot(), await make_bot()
    await emulator.wait_connected(2)
    emulator.spread = True  # round-robin over the two connections, as DingTalk spreads them
    messages = [emulator.message(user, "我是谁") for user in ("jyj_ll", "wjj_ll", "bb_ywy1", "jdy1") * 5]
    for data in messages:
        await emulator.deliver(data)
    for data in messages[:6]:  # and DingTalk delivers some a second time, on the other connection
        await emulator.deliver(data)
    for data in messages:
        await emulator.wait_reply(data["msgId"])
    await asyncio.sleep(0.5)
    assert all(len(emulator.replies_to(d["msgId"])) == 1 for d in messages)
    assert first.dispatcher.replies_sent > 0 and second.dispatcher.replies_sent > 0  # both took a share
    assert first.dispatcher.replies_sent + second.dispatcher.replies_sent == len(messages)


async def test_a_scan_run_by_both_instances_queues_and_sends_each_reminder_once(make_bot, emulator):
    from jobs.rectification import scan_ladder

    clock = FakeClock(beijing("2026-11-23 10:00"))  # a Monday, within the send window
    first, second = await make_bot(clock=clock), await make_bot(clock=clock)
    await emulator.wait_connected(2)
    for unit in ("教育局", "卫健局", "财政局"):
        msg_id = await emulator.send_text("bb_ywy1", f"交办 {unit} 巡察 1个工作日 超编借调人员3名")
        assert "ZG-" in (await emulator.wait_reply(msg_id)).text
    await asyncio.gather(scan_ladder(first.services), scan_ladder(second.services), scan_ladder(first.services))
    async with first.db.read() as s:
        queued = (await s.exec(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == REMIND_KIND))).one()
    assert queued > 0

    async def pending() -> int:
        async with first.db.read() as s:
            return (await s.exec(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.status != "sent"))).one()

    for _ in range(100):  # both outbox workers deliver what is due
        if not await pending():
            break
        await asyncio.sleep(0.2)
    assert await pending() == 0
    sent = [(p.to, p.text) for p in emulator.ledger if p.kind == "oto"]
    assert len(sent) == len(set(sent)), "a reminder was sent twice"
