"""A local DingTalk: the Stream gateway and the outbound APIs, for tests and the demo.

It speaks the Stream protocol to the real SDK (connections/open → ticket → websocket, CALLBACK
frames, acks, SYSTEM ping and disconnect) and serves the outbound endpoints the bot calls
(accessToken, sessionWebhook, oToMessages/batchSend, groupMessages/send, messageFiles/download),
recording every message it receives in `ledger`. `faults` injects 5xx, 429, throttling, slow
answers and flow control; `drop_sockets()` and `silence()` break the stream.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.emulator.faults import Faults


@dataclass
class Sent:
    """One message the bot sent, as DingTalk received it."""

    kind: str  # "reply" (sessionWebhook), "oto" (batchSend, one record per user), "group"
    to: str  # userId, or the conversation id for replies in groups and group sends
    msg_key: str  # sampleText / sampleMarkdown / sampleActionCard… (replies: their msgtype)
    param: dict[str, Any]
    in_reply_to: str = ""  # msgId of the inbound message (replies only)
    at: float = field(default_factory=time.time)
    seq: int = 0

    @property
    def text(self) -> str:
        """The visible text of the message, whatever its type."""
        p = self.param
        return str(p.get("content") or p.get("text") or "")

    @property
    def buttons(self) -> list[tuple[str, str]]:
        p = self.param
        if p.get("btns"):
            return [(b["title"], b["actionURL"]) for b in p["btns"]]
        out = [(p[f"actionTitle{i}"], p[f"actionURL{i}"]) for i in range(1, 6) if f"actionTitle{i}" in p]
        if p.get("singleTitle"):
            out.append((p["singleTitle"], p["singleURL"]))
        return out


class Emulator:
    def __init__(
        self, *, client_id: str = "emu-app", client_secret: str = "emu-secret", ping_interval: float = 20.0,
        corp_id: str = "dingemucorp",
    ) -> None:
        self.client_id, self.client_secret, self.corp_id = client_id, client_secret, corp_id
        self.ping_interval = ping_interval
        self.faults = Faults()
        self.ledger: list[Sent] = []
        self.inbound: list[dict[str, Any]] = []  # frames delivered to the bot (the chat page's log)
        self.acks: dict[str, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self.files: dict[str, bytes] = {}
        self.opened = 0  # connections/open calls
        self.base_url = ""
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._sessions: dict[str, dict[str, Any]] = {}
        self._silent = False
        self._seq = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.app = web.Application()
        self.app.add_routes([
            web.post("/v1.0/gateway/connections/open", self._open),
            web.get("/connect", self._connect),
            web.post("/v1.0/oauth2/accessToken", self._token),
            web.post("/robot/sendBySession", self._session_reply),
            web.post("/v1.0/robot/oToMessages/batchSend", self._batch_send),
            web.post("/v1.0/robot/groupMessages/send", self._group_send),
            web.post("/v1.0/robot/messageFiles/download", self._file_url),
            web.get("/files/{code}", self._file),
        ])

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        real_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://{host}:{real_port}"
        return self.base_url

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def connected(self) -> int:
        return len(self._sockets)

    async def wait_connected(self, n: int = 1, timeout: float = 10.0) -> None:
        await self.wait_until(lambda: self.connected >= n, timeout)

    async def wait_until(self, predicate: Any, timeout: float = 10.0) -> None:
        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)
        await asyncio.wait_for(_wait(), timeout)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- driving the bot ----------------------------------------------------------------------------------
    def message(
        self, user_id: str, text: str, *, nick: str = "", group: str = "", msg_id: str = "",
        msgtype: str = "text", content: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Build the `data` of a bot message as DingTalk would send it."""
        msg_id = msg_id or "msg" + secrets.token_hex(8)
        now = int(time.time() * 1000)
        session = secrets.token_hex(8)
        conversation = group or f"cid-single-{user_id}"
        self._sessions[session] = {"msg_id": msg_id, "to": group or user_id, "expires": now + 5_400_000}
        data: dict[str, Any] = {
            "conversationId": conversation, "chatbotCorpId": self.corp_id, "chatbotUserId": "$:bot",
            "msgId": msg_id, "senderNick": nick or user_id, "isAdmin": False, "senderStaffId": user_id,
            "sessionWebhookExpiredTime": now + 5_400_000, "createAt": now, "senderCorpId": self.corp_id,
            "conversationType": "2" if group else "1", "senderId": f"$:sender:{user_id}",
            "sessionWebhook": f"{self.base_url}/robot/sendBySession?session={session}",
            "robotCode": self.client_id, "msgtype": msgtype,
        }
        if group:
            data.update(conversationTitle="编办工作群", isInAtList=True,
                        atUsers=[{"dingtalkId": "$:bot"}])
            text = "@编办监督助手 " + text
        if msgtype == "text":
            data["text"] = {"content": text}
        else:
            data["content"] = content or {}
        return data

    async def deliver(self, data: dict[str, Any], *, message_id: str = "") -> str:
        """Push one CALLBACK frame to a connected bot; returns the frame's messageId."""
        message_id = message_id or "frame" + secrets.token_hex(8)
        frame = {
            "specVersion": "1.0", "type": "CALLBACK",
            "headers": {"appId": self.client_id, "connectionId": "c1", "contentType": "application/json",
                        "messageId": message_id, "time": str(int(time.time() * 1000)),
                        "topic": "/v1.0/im/bot/messages/get"},
            "data": json.dumps(data, ensure_ascii=False),
        }
        await self.send_frame(frame)
        self.inbound.append(dict(data, seq=next(self._seq)))
        return message_id

    async def send_text(self, user_id: str, text: str, **kw: Any) -> str:
        """Deliver a text message from `user_id`; returns its msgId."""
        data = self.message(user_id, text, **kw)
        await self.deliver(data)
        return data["msgId"]

    async def send_frame(self, frame: dict[str, Any]) -> None:
        if not self._sockets:
            raise RuntimeError("no bot is connected to the emulator")
        await self._sockets[-1].send_str(json.dumps(frame, ensure_ascii=False))

    def replies_to(self, msg_id: str) -> list[Sent]:
        return [s for s in self.ledger if s.kind == "reply" and s.in_reply_to == msg_id]

    async def wait_reply(self, msg_id: str, timeout: float = 10.0) -> Sent:
        await self.wait_until(lambda: bool(self.replies_to(msg_id)), timeout)
        return self.replies_to(msg_id)[0]

    def pushes_to(self, user_id: str) -> list[Sent]:
        return [s for s in self.ledger if s.kind == "oto" and s.to == user_id]

    async def wait_push(self, user_id: str, count: int = 1, timeout: float = 10.0) -> list[Sent]:
        await self.wait_until(lambda: len(self.pushes_to(user_id)) >= count, timeout)
        return self.pushes_to(user_id)

    async def drop_sockets(self) -> None:
        """Close every stream socket abruptly, as a network fault would."""
        for ws in list(self._sockets):
            await ws.close(code=1011)

    def silence(self, on: bool = True) -> None:
        """Stop sending pings on open sockets (a half-open, silent connection)."""
        self._silent = on

    async def ask_disconnect(self) -> None:
        await self.send_frame({"specVersion": "1.0", "type": "SYSTEM",
                               "headers": {"messageId": "sys" + secrets.token_hex(4), "topic": "disconnect",
                                           "contentType": "application/json"},
                               "data": json.dumps({"reason": "maintenance"})})

    # -- stream gateway ------------------------------------------------------------------------------------
    async def _open(self, request: web.Request) -> web.Response:
        if (fault := await self.faults.take("connections/open")) is not None:
            return fault
        body = await request.json()
        if body.get("clientId") != self.client_id or body.get("clientSecret") != self.client_secret:
            return web.json_response({"code": "InvalidAuthentication", "message": "应用凭证错误"}, status=401)
        self.opened += 1
        ticket = secrets.token_urlsafe(16)
        self._tickets.add(ticket)
        endpoint = self.base_url.replace("http://", "ws://") + "/connect"
        return web.json_response({"endpoint": endpoint, "ticket": ticket})

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.json_response({"code": "InvalidTicket"}, status=403)
        self._tickets.discard(ticket)  # a ticket opens exactly one connection
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await self._notify()
        pinger = asyncio.create_task(self._ping_loop(ws))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    ack = json.loads(msg.data)
                    self.acks[ack.get("headers", {}).get("messageId", "")] = ack
                    await self._notify()
        finally:
            pinger.cancel()
            self._sockets.remove(ws)
            await self._notify()
        return ws

    async def _ping_loop(self, ws: web.WebSocketResponse) -> None:
        while not ws.closed:
            await asyncio.sleep(self.ping_interval)
            if self._silent or ws.closed:
                continue
            frame = {"specVersion": "1.0", "type": "SYSTEM",
                     "headers": {"messageId": "ping" + secrets.token_hex(4), "topic": "ping",
                                 "contentType": "application/json"},
                     "data": json.dumps({"opaque": secrets.token_hex(4)})}
            try:
                await ws.send_str(json.dumps(frame))
            except ConnectionError:
                return

    # -- outbound APIs -------------------------------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        if (fault := await self.faults.take("accessToken")) is not None:
            return fault
        body = await request.json()
        if body.get("appKey") != self.client_id or body.get("appSecret") != self.client_secret:
            return web.json_response({"code": "InvalidAppKey", "message": "appkey 或 appsecret 错误"}, status=400)
        token = secrets.token_hex(16)
        self.tokens.add(token)
        return web.json_response({"accessToken": token, "expireIn": 7200})

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def _authorized(self, request: web.Request) -> web.Response | None:
        if request.headers.get("x-acs-dingtalk-access-token") not in self.tokens:
            return web.json_response({"code": "InvalidAuthentication", "message": "不合法的access_token"},
                                     status=400)
        return None

    async def _session_reply(self, request: web.Request) -> web.Response:
        if (fault := await self.faults.take("sendBySession")) is not None:
            return fault
        session = self._sessions.get(request.query.get("session", ""))
        if session is None or session["expires"] < time.time() * 1000:
            return web.json_response({"errcode": 300001, "errmsg": "session 不存在"})
        body = await request.json()
        msgtype = body.get("msgtype", "")
        await self._record(Sent("reply", session["to"], msgtype, dict(body.get(msgtype) or {}),
                                in_reply_to=session["msg_id"]))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _batch_send(self, request: web.Request) -> web.Response:
        if (denied := self._authorized(request)) is not None:
            return denied
        if (fault := await self.faults.take("batchSend")) is not None:
            return fault
        body = await request.json()
        users = list(body.get("userIds") or [])
        if not users or len(users) > 20:
            return web.json_response({"code": "invalidParameter", "message": "userIds 1-20"}, status=400)
        throttled = self.faults.take_flow_control(users)
        param = json.loads(body.get("msgParam") or "{}")
        for user in users:
            if user not in throttled:
                await self._record(Sent("oto", user, body.get("msgKey", ""), param))
        return web.json_response({"processQueryKey": secrets.token_hex(8), "invalidStaffIdList": [],
                                  "flowControlledStaffIdList": throttled})

    async def _group_send(self, request: web.Request) -> web.Response:
        if (denied := self._authorized(request)) is not None:
            return denied
        if (fault := await self.faults.take("groupMessages/send")) is not None:
            return fault
        body = await request.json()
        param = json.loads(body.get("msgParam") or "{}")
        await self._record(Sent("group", body.get("openConversationId", ""), body.get("msgKey", ""), param))
        return web.json_response({"processQueryKey": secrets.token_hex(8)})

    async def _file_url(self, request: web.Request) -> web.Response:
        if (denied := self._authorized(request)) is not None:
            return denied
        code = (await request.json()).get("downloadCode", "")
        if code not in self.files:
            return web.json_response({"code": "invalidDownloadCode", "message": "下载码无效"}, status=400)
        return web.json_response({"downloadUrl": f"{self.base_url}/files/{code}"})

    async def _file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["code"])
        return web.Response(body=data) if data is not None else web.Response(status=404)

    async def _record(self, sent: Sent) -> None:
        sent.seq = next(self._seq)
        self.ledger.append(sent)
        await self._notify()
