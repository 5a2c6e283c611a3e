"""Hostile Stream input: malformed frames are acked once and dropped, and a seeded fuzz of every
message type keeps the connection up, answers every text exactly once and never leaks internals."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

from sqlmodel import select

from models import InboundMessage
from tests.hostile.cases import healthz, leaks, malformed_frames, send_malformed

FUZZ_SEED = 1313
FUZZ_MESSAGES = 300
DATEISH = "0123456789-/.年月日"
USERS = ["jyj_ll", "wjj_ll", "twx_ll", "jyj_fzr", "bb_ywy1", "bb_ld1", "jdy1", "admin1", "stranger", "newcomer9"]


async def test_malformed_frames_are_acked_once_and_dropped(emulator, bot, caplog):
    frames = malformed_frames(emulator)
    expected = []
    for _name, payload in frames:
        if message_id := await send_malformed(emulator, payload):
            expected.append(message_id)
    # a well-formed message after them still gets its reply on the same connection
    last = await emulator.send_text("jyj_ll", "我是谁")
    reply = await emulator.wait_reply(last)
    assert "王芳" in reply.text
    await emulator.wait_until(lambda: all(m in emulator.acks for m in expected))
    counts = Counter(emulator.ack_log)
    assert {m: counts[m] for m in expected} == dict.fromkeys(expected, 1)  # every frame acked exactly once
    assert all(emulator.acks[m]["code"] == 200 for m in expected)  # OK: DingTalk must not redeliver
    assert emulator.opened == 1 and bot.stream.connections == 1  # never reconnected
    assert await healthz(bot.port) == 200
    assert [s.in_reply_to for s in emulator.ledger if s.kind == "reply"] == [last]  # dropped frames: no reply
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert all(any(m in line for line in dropped) for m in expected)  # logged with its messageId


def fuzz_messages(emu, rng: random.Random) -> list[tuple[str, dict]]:
    """(kind, data) of FUZZ_MESSAGES seeded messages of every type."""
    odd = ["", " ", "\u200b", "\U0001f600" * 50, "𠮷野家", "\u202eabc", "\x00\x07", "中文" * 3000,
           "a" * 20000, "99999999999", "-1", "0", "3.14", "1e309", "第0号", "{{ 7*7 }}", "{% if %}",
           "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd", "%s%s%n", "\\n\\t", "NaN"]
    commands = ["帮助", "我是谁", "查看问题", "我的问题", "走访计划", "审批", "导出台账", "绑定", "问题", "整改",
                "预警", "统计", "反馈", "催办", "复核"]
    out = []
    for i in range(FUZZ_MESSAGES):
        user = rng.choice(USERS)
        kind = rng.choice(["text"] * 6 + ["picture", "file", "richText", "audio", "video", "unknown"])
        group = "cid-group-1" if rng.random() < 0.15 else ""
        if kind == "text":
            text = rng.choice([
                rng.choice(odd),
                f"{rng.choice(commands)} {rng.choice(odd)}",
                f"{rng.choice(commands)} {rng.randint(-10**6, 10**6)}",
                f"{rng.choice(commands)} {''.join(rng.choice(DATEISH) for _ in range(rng.randint(1, 12)))}",
                "@编办监督助手 " * rng.randint(1, 4),
                "".join(chr(rng.randint(0x20, 0x2FFF)) for _ in range(rng.randint(1, 80))),
            ])
            data = emu.message(user, text, group=group)
        elif kind == "richText":
            items = [{"text": rng.choice(odd + commands)}, {"downloadCode": f"fz{i}", "type": "picture"}]
            data = emu.message(user, "", group=group, msgtype="richText",
                               content={"richText": rng.sample(items, rng.randint(0, 2))})
        elif kind == "unknown":
            data = emu.message(user, "", group=group, msgtype=rng.choice(["markdown", "interactiveCard", "", "x"]),
                               content={"anything": rng.choice(odd)})
        else:
            content = {"downloadCode": f"fz{i}", "fileName": rng.choice(["a.xlsx", "", "..\\x.csv", "名单.csv"])}
            if kind == "audio":
                content["recognition"] = rng.choice(odd + commands)
            data = emu.message(user, "", group=group, msgtype=kind, content=content)
        out.append((kind, data))
    return out


async def test_fuzz_keeps_the_connection_and_answers_every_text_once(emulator, bot):
    rng = random.Random(FUZZ_SEED)
    messages = fuzz_messages(emulator, rng)
    frames = [payload for _, payload in malformed_frames(emulator)]
    texts: list[str] = []
    frame_ids: list[str] = []
    for i, (kind, data) in enumerate(messages):
        emulator.add_file(f"fz{i}", rng.choice([b"", b"\x00\xff" * 100, "姓名\n张三\n".encode()]))
        frame_ids.append(await emulator.deliver(data))
        if kind == "text":
            texts.append(data["msgId"])
        if i % 20 == 0:  # malformed frames interleaved with the real messages
            if message_id := await send_malformed(emulator, frames[(i // 20) % len(frames)]):
                frame_ids.append(message_id)
        if i % 25 == 0:
            await asyncio.sleep(0.05)  # let the bot keep up, as a real chat would
    await emulator.wait_until(lambda: all(emulator.replies_to(m) for m in texts), timeout=120)
    await asyncio.sleep(0.5)
    assert emulator.opened == 1 and bot.stream.connections == 1
    assert await healthz(bot.port) == 200
    await emulator.wait_until(lambda: all(m in emulator.acks for m in frame_ids))
    counts = Counter(emulator.ack_log)
    assert [m for m in frame_ids if counts[m] != 1] == []  # every frame, good or bad, acked exactly once
    assert all(len(emulator.replies_to(m)) == 1 for m in texts)
    said = {data["msgId"]: said_in(data) for _, data in messages}
    leaked = [(s.text[:300], leaks(s.text, said.get(s.in_reply_to, ""))) for s in emulator.ledger]
    assert [pair for pair in leaked if pair[1]] == []
    await bot.dispatcher.audit.flush()
    async with bot.db.read() as session:  # no handler crashed on any of them
        crashed = (await session.exec(select(InboundMessage).where(InboundMessage.outcome == "error"))).all()
    assert [(m.command, said.get(m.msg_id, "")[:80]) for m in crashed] == []
    assert [s.in_reply_to for s in emulator.ledger if "处理这条消息时出错了" in s.text] == []


def said_in(data: dict) -> str:
    """Every text the user sent in one message (the bot may quote it back)."""
    content = data.get("content") or {}
    parts = [(data.get("text") or {}).get("content", ""), content.get("recognition", ""),
             *(i.get("text", "") for i in content.get("richText", []))]
    return " ".join(p for p in parts if p)
