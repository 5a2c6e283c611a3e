"""The demo's chat page: pick a persona, type, see replies and pushes as in DingTalk."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from aiohttp import web

from bot.emulator.server import Emulator

PAGE = Path(__file__).resolve().parent / "chat.html"
GROUP_ID = "cid-demo-group"
GROUP_TITLE = "编办工作群"


IN_DINGTALK = "dingtalk://dingtalkclient/page/link?"


def attach_chat(emu: Emulator, personas: list[dict[str, str]], dashboard_url: str = "") -> None:
    """Add the page and its small JSON API to the emulator's web app (`dashboard_url`: the 看板 button;
    it may also be set later as `emu.dashboard_url`, once the bot's port is known)."""
    nicks = {p["user_id"]: p["name"] for p in personas}
    emu.dashboard_url = dashboard_url

    async def page(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGE)

    async def list_personas(_request: web.Request) -> web.Response:
        return web.json_response({"personas": personas, "group": GROUP_TITLE, "dashboard": emu.dashboard_url})

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

    async def media(request: web.Request) -> web.Response:
        """A file the bot uploaded (an export), served as a download."""
        found = emu.media.get(request.match_info["media_id"])
        if found is None:
            return web.json_response({"error": "文件不存在（演示重启后旧文件会清空）"}, status=404)
        name, data = found
        return web.Response(body=data, content_type="application/octet-stream", headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})

    emu.app.add_routes([web.get("/", page), web.get("/chat/personas", list_personas),
                        web.post("/chat/send", send), web.get("/chat/log", log),
                        web.get("/chat/media/{media_id}", media)])


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
        buttons = [_button(t, u) for t, u in sent.buttons]
        event = {"seq": sent.seq, "conv": conv, "from": "bot", "text": sent.text,
                 "push": sent.kind != "reply", "buttons": buttons}
        if sent.msg_key == "sampleFile":
            event["file"] = _file(emu, sent.param)
        events.append(event)
    return sorted(events, key=lambda e: e["seq"])


def _file(emu: Emulator, param: dict[str, Any]) -> dict[str, Any]:
    """A file message: its name, size and where the page downloads it."""
    media_id = str(param.get("mediaId", ""))
    stored = emu.media.get(media_id)
    name = str(param.get("fileName") or (stored[0] if stored else "文件"))
    size = len(stored[1]) if stored else 0
    return {"name": name, "size": size, "size_text": _size(size) if stored else "已失效",
            "url": f"/chat/media/{quote(media_id)}" if stored else ""}


def _size(n: int) -> str:
    return f"{n} 字节" if n < 1024 else f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"


def _button(title: str, url: str) -> dict[str, str]:
    """A dtmd button sends its command; a page link (看板) opens the page as the DingTalk client would."""
    if url.startswith(IN_DINGTALK):
        return {"title": title, "url": parse_qs(urlsplit(url).query).get("url", [""])[0]}
    if url.startswith(("http://", "https://")):
        return {"title": title, "url": url}
    return {"title": title, "command": unquote(url.split("content=", 1)[-1])}
