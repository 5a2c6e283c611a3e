"""Shared pieces of the hostile suite (tests/test_hostile_*.py): malformed Stream frames and the
checks every reply must pass."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import aiohttp

from bot.emulator import Emulator

# A reply must never show a traceback, an exception class or template syntax.
LEAK = re.compile(r"Traceback|\b\w*(Error|Exception)\b|\{\{|\{%|%\}|\}\}")


def leaks(text: str, said: str = "") -> str:
    """The leaking fragment of a reply, or "". What the user `said` may be quoted back: it is
    taken out of the reply first (whole, and word by word)."""
    for part in sorted({said.strip(), *said.split()}, key=len, reverse=True):
        if part:
            text = text.replace(part, "")
    found = LEAK.search(text)
    return found.group(0) if found else ""


def malformed_frames(emu: Emulator, user: str = "jyj_ll") -> list[tuple[str, Any]]:
    """(name, payload) of every malformed bot-message frame: payload is the `data` dict, or a
    str that goes out as `data` as it is, ("raw", text) for a websocket text that is not a frame, or
    ("frame", dict) for a whole frame."""

    def msg(**changes: Any) -> dict[str, Any]:
        data = emu.message(user, "我是谁")
        for key, value in changes.items():
            if value is _DROP:
                data.pop(key, None)
            else:
                data[key] = value
        return data

    picture = emu.message(user, "", msgtype="picture", content={"downloadCode": "x"})
    picture.pop("content")
    rich = emu.message(user, "", msgtype="richText", content={"richText": ["x", 3]})
    return [
        ("data is not JSON", "{not json"),
        ("text message without text", msg(text=_DROP)),
        ("text is a string", msg(text="我是谁")),
        ("picture without content", picture),
        ("sessionWebhookExpiredTime is not a number", msg(sessionWebhookExpiredTime="abc")),
        ("atUsers is a string", msg(atUsers="x")),
        ("text.content is a number", msg(text={"content": 12345})),
        ("senderStaffId is a number", msg(senderStaffId=4242)),
        ("data is a JSON list", json.dumps([1, 2, 3])),
        ("data is JSON null", "null"),
        ("richText items are not objects", rich),
        ("msgId is an object", msg(msgId={"a": 1})),
        ("text.content is null", msg(text={"content": None})),
        ("atUsers holds strings", msg(atUsers=["x"])),
        ("not JSON at all", ("raw", "\x00\x01garbage")),
        ("a frame without headers", ("raw", json.dumps({"type": "CALLBACK", "data": "{}"}))),
        ("a frame that is a list", ("raw", "[]")),
        ("an event whose data is not JSON", ("frame", {
            "specVersion": "1.0", "type": "EVENT", "data": "{bad",
            "headers": {"messageId": "event-bad-" + data_id(), "topic": "*", "eventType": "bpms_instance_change",
                        "contentType": "application/json"}})),
        ("a callback with headers of the wrong type", ("frame", {
            "specVersion": "1.0", "type": "CALLBACK", "data": "{}",
            "headers": {"messageId": "frame-bad-" + data_id(), "topic": ["x"], "time": {"a": 1}}})),
    ]


_DROP = object()


def data_id() -> str:
    return secrets.token_hex(6)


async def send_malformed(emu: Emulator, payload: Any) -> str:
    """Send one malformed frame; returns the messageId to expect an ack for ("" when it has none)."""
    if isinstance(payload, tuple) and payload[0] == "frame":
        await emu.send_frame(payload[1])
        return payload[1]["headers"]["messageId"]
    if isinstance(payload, tuple):
        await emu.send_raw(payload[1])
        return ""
    if isinstance(payload, str):
        return await emu.deliver_raw(payload)
    return await emu.deliver(payload)


async def healthz(port: int) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as resp:
        return resp.status
