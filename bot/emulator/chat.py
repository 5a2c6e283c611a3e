"""The demo's chat page: pick a persona, type, see replies and pushes as in DingTalk."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from bot.emulator.server import Emulator

PAGE = Path(__file__).resolve().parent / "chat.html"
GROUP_ID = "cid-demo-group"
GROUP_TITLE = "编办工作群"


def attach_chat(emu: Emulator, personas: list[dict[str, str]]) -> None:
    """Add the page and its small JSON API to the emulator's web app."""
    nicks = {p["user_id"]: p["name"] for p in personas}

    async def page(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGE)

    async def list_personas(_request: web.Request) -> web.Response:
        return web.json_response({"personas": personas, "group": GROUP_TITLE})

    async def send(request: web.Request) -> web.Response:
        body = await request.json()
        user, text = str(body.get("user_id", "")), str(body.get("text", "")).strip()
        if user not in nicks or not text:
            return web.json_response({"error": "请选择身份并输入内容"}, status=400)
        group = GROUP_ID if body.get("conversation") == "group" else ""
        if not emu.connected:
            return web.json_response({"error": "机器人尚未连接，请稍候"}, status=503)
        msg_id = await emu.send_text(user, text, nick=nicks[user], group=group)
        return web.json_response({"msgId": msg_id})

    async def log(request: web.Request) -> web.Response:
        user = request.query.get("user_id", "")
        since = int(request.query.get("since", "0") or 0)
        return web.json_response({"events": [e for e in _events(emu, user, nicks) if e["seq"] > since]})

    emu.app.add_routes([web.get("/", page), web.get("/chat/personas", list_personas),
                        web.post("/chat/send", send), web.get("/chat/log", log)])


def _events(emu: Emulator, user: str, nicks: dict[str, str]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for data in emu.inbound:
        group = data.get("conversationType") == "2"
        if group or data.get("senderStaffId") == user:
            events.append({"seq": data["seq"], "conv": "group" if group else "single",
                           "from": "me" if data.get("senderStaffId") == user else nicks.get(data["senderStaffId"], "?"),
                           "text": (data.get("text") or {}).get("content", ""), "buttons": []})
    for sent in emu.ledger:
        if sent.kind == "group" or (sent.kind == "reply" and sent.to == GROUP_ID):
            conv = "group"
        elif sent.to == user:
            conv = "single"
        else:
            continue
        buttons = [{"title": t, "command": unquote(u.split("content=", 1)[-1])} for t, u in sent.buttons]
        events.append({"seq": sent.seq, "conv": conv, "from": "bot", "text": sent.text,
                       "push": sent.kind != "reply", "buttons": buttons})
    return sorted(events, key=lambda e: e["seq"])
