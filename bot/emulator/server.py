"""A local DingTalk: the Stream gateway and the outbound APIs, for tests and the demo.

It speaks the Stream protocol to the real SDK (connections/open → ticket → websocket, CALLBACK
frames, acks, SYSTEM ping and disconnect) and serves the outbound endpoints the bot calls
(accessToken, sessionWebhook, oToMessages/batchSend, groupMessages/send, messageFiles/download,
and the old oapi gettoken and media/upload), recording every message it receives in `ledger`
and every upload in `media`. `faults` injects 5xx, 429, throttling, slow answers and flow
control; `drop_sockets()` and `silence()` break the stream. `send_event()` pushes an EVENT frame
(OA approval events), and `GET /v1.0/workflow/processInstances` serves the instances put in
`workflow[processInstanceId]` (the `result` object of the real answer). H5 免登 (the JSAPI stand-in,
authCode, user-info exchange) is in h5.py.
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
from bot.emulator.h5 import add_h5_routes

REQUEST_ID = web.RequestKey("emulator_request", int)  # the id of the current Request, set by the log
ENDPOINTS = {  # URL path → the short name used by `faults` and `requests`
    "/v1.0/gateway/connections/open": "connections/open",
    "/v1.0/oauth2/accessToken": "accessToken",
    "/robot/sendBySession": "sendBySession",
    "/v1.0/robot/oToMessages/batchSend": "batchSend",
    "/v1.0/robot/groupMessages/send": "groupMessages/send",
    "/v1.0/robot/messageFiles/download": "messageFiles/download",
}


@dataclass
class Request:
    """One POST the emulator received (wall-clock times, as time.time())."""

    id: int
    endpoint: str  # a short name from ENDPOINTS, else the path
    client: str  # the <label> of a /_as/<label>/ URL, else ""
    arrived: float
    answered: float | None = None  # when the handler produced its answer (None: still pending)
    status: int = 0


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
    request: int = 0  # id of the Request that carried it (see Emulator.requests)

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
        corp_id: str = "dingemucorp", latency: float = 0.0,
    ) -> None:
        self.client_id, self.client_secret, self.corp_id = client_id, client_secret, corp_id
        self.latency = latency  # seconds added to every HTTP answer (benchmarks: DingTalk's real latency)
        self.spread = False  # deliver frames round-robin over every connection (several bot processes)
        self._reply_waiters: dict[str, asyncio.Future[Sent]] = {}
        self._next_socket = itertools.count()
        self.ping_interval = ping_interval
        self.faults = Faults()
        self.ledger: list[Sent] = []
        self.requests: list[Request] = []  # every POST, in arrival order
        self.inbound: list[dict[str, Any]] = []  # frames delivered to the bot (the chat page's log)
        self.acks: dict[str, dict[str, Any]] = {}
        self.ack_log: list[str] = []  # the messageId of every ack, in order (a frame acked twice shows twice)
        self.tokens: set[str] = set()
        self.files: dict[str, bytes] = {}  # downloadCode -> content (add_file)
        self.oapi_tokens: dict[str, float] = {}  # old-style token -> expiry (time.time())
        self.media: dict[str, tuple[str, bytes]] = {}  # media_id -> (file name, content)
        self.media_types: dict[str, str] = {}  # media_id -> image / voice / video / file
        self.workflow: dict[str, dict[str, Any]] = {}  # processInstanceId -> `result` of processInstances
        self.auth_codes: dict[str, tuple[str, float]] = {}  # 免登 authCode -> (userId, expiry); see h5.py
        self.dashboard_url = ""  # the chat page's 看板 button (chat.py)
        self.opened = 0  # connections/open calls
        self.base_url = ""
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._sessions: dict[str, dict[str, Any]] = {}
        self._silent = False
        self._seq = itertools.count(1)
        self._request_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.app = web.Application(client_max_size=64 * 1024 * 1024,  # media uploads
                                   middlewares=[self._log_request])
        self.app.on_response_prepare.append(self.faults.date_header)
        self.app.add_routes([
            web.post("/v1.0/gateway/connections/open", self._open),
            web.get("/connect", self._connect),
            web.post("/v1.0/oauth2/accessToken", self._token),
            web.post("/robot/sendBySession", self._session_reply),
            web.post("/v1.0/robot/oToMessages/batchSend", self._batch_send),
            web.post("/v1.0/robot/groupMessages/send", self._group_send),
            web.post("/v1.0/robot/messageFiles/download", self._file_url),
            web.get("/files/{code}", self._file),
            web.get("/gettoken", self._oapi_token),
            web.post("/media/upload", self._media_upload),
            web.get("/v1.0/workflow/processInstances", self._process_instance),
        ])
        add_h5_routes(self)  # 免登: the JSAPI shim, authCode, user-info exchange
        self._add_client_routes()

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
        self.faults.release()  # held answers would otherwise delay the shutdown
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

    def _add_client_routes(self) -> None:
        """Serve every POST endpoint under /_as/<label>/ too (see the module docstring)."""
        posts = [(r.resource.canonical, r.handler) for r in self.app.router.routes()
                 if r.method == "POST" and r.resource is not None]
        self.app.add_routes([web.post("/_as/{client}" + path, handler) for path, handler in posts])

    def requests_to(self, endpoint: str, client: str | None = None) -> list[Request]:
        return [r for r in self.requests if r.endpoint == endpoint and (client is None or r.client == client)]

    @web.middleware
    async def _log_request(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.latency and request.path != "/connect":  # DingTalk took the call; its answer travels back
            response = await self._log_request_now(request, handler)
            await asyncio.sleep(self.latency)
            return response
        return await self._log_request_now(request, handler)

    async def _log_request_now(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method != "POST":
            return await handler(request)
        path = request.path
        client = request.match_info.get("client", "")
        if client:
            path = path.removeprefix(f"/_as/{client}")
        record = Request(next(self._request_ids), ENDPOINTS.get(path, path), client, time.time())
        self.requests.append(record)
        request[REQUEST_ID] = record.id
        try:
            response = await handler(request)
            record.status = response.status
            return response
        finally:
            record.answered = time.time()

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

    async def send_event(self, event_type: str, data: dict[str, Any], *, event_id: str | None = None) -> str:
        """Push one EVENT frame (topic "*"); returns its messageId. Pass `event_id` again to redeliver."""
        message_id = "event" + secrets.token_hex(8)
        now = str(int(time.time() * 1000))
        frame = {
            "specVersion": "1.0", "type": "EVENT",
            "headers": {"appId": self.client_id, "connectionId": "c1", "contentType": "application/json",
                        "messageId": message_id, "time": now, "topic": "*", "eventType": event_type,
                        "eventId": event_id or secrets.token_hex(16), "eventBornTime": now,
                        "eventCorpId": self.corp_id, "eventUnifiedAppId": self.client_id},
            "data": json.dumps(data, ensure_ascii=False),
        }
        await self.send_frame(frame)
        return message_id

    async def wait_ack(self, message_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The ack frame the bot sent for `message_id`."""
        await self.wait_until(lambda: message_id in self.acks, timeout)
        return self.acks[message_id]

    async def send_text(self, user_id: str, text: str, **kw: Any) -> str:
        """Deliver a text message from `user_id`; returns its msgId."""
        data = self.message(user_id, text, **kw)
        await self.deliver(data)
        return data["msgId"]

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.send_raw(json.dumps(frame, ensure_ascii=False))

    async def send_raw(self, text: str) -> None:
        """Send one websocket text message as it is (a frame, or something that is not one)."""
        if not self._sockets:
            raise RuntimeError("no bot is connected to the emulator")
        socket = self._sockets[next(self._next_socket) % len(self._sockets)] if self.spread else self._sockets[-1]
        await socket.send_str(text)

    async def deliver_raw(self, data: str, *, message_id: str = "") -> str:
        """Push a bot-message CALLBACK frame whose `data` is the given string (JSON or not)."""
        message_id = message_id or "frame" + secrets.token_hex(8)
        await self.send_frame({
            "specVersion": "1.0", "type": "CALLBACK",
            "headers": {"appId": self.client_id, "connectionId": "c1", "contentType": "application/json",
                        "messageId": message_id, "time": str(int(time.time() * 1000)),
                        "topic": "/v1.0/im/bot/messages/get"},
            "data": data,
        })
        return message_id

    def expect_reply(self, msg_id: str) -> asyncio.Future[Sent]:
        """A future for the first reply to `msg_id` (register before delivering; O(1), for load tests)."""
        future: asyncio.Future[Sent] = asyncio.get_running_loop().create_future()
        self._reply_waiters[msg_id] = future
        return future

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
                    self.ack_log.append(ack.get("headers", {}).get("messageId", ""))
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
        """Forget every token issued so far, new-style and oapi alike (calls get "invalid token")."""
        self.tokens.clear()
        self.oapi_tokens.clear()

    def expire_oapi_tokens(self) -> None:
        """Make every oapi token issued so far answer errcode 42001 (expired)."""
        self.oapi_tokens = dict.fromkeys(self.oapi_tokens, 0.0)

    def add_file(self, code: str, data: bytes) -> str:
        """Make `data` downloadable with downloadCode `code` (what a user's picture or file carries)."""
        self.files[code] = data
        return code

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
                await self._record(Sent("oto", user, body.get("msgKey", ""), param,
                                        request=request.get(REQUEST_ID, 0)))
        await self.faults.take_hold("batchSend")
        return web.json_response({"processQueryKey": secrets.token_hex(8), "invalidStaffIdList": [],
                                  "flowControlledStaffIdList": throttled})

    async def _group_send(self, request: web.Request) -> web.Response:
        if (denied := self._authorized(request)) is not None:
            return denied
        if (fault := await self.faults.take("groupMessages/send")) is not None:
            return fault
        body = await request.json()
        if not body.get("openConversationId"):
            return web.json_response({"code": "invalidParameter", "message": "openConversationId 不能为空"},
                                     status=400)
        param = json.loads(body.get("msgParam") or "{}")
        await self._record(Sent("group", body.get("openConversationId", ""), body.get("msgKey", ""), param,
                                request=request.get(REQUEST_ID, 0)))
        await self.faults.take_hold("groupMessages/send")
        return web.json_response({"processQueryKey": secrets.token_hex(8)})

    async def _file_url(self, request: web.Request) -> web.Response:
        if (denied := self._authorized(request)) is not None:
            return denied
        if (fault := await self.faults.take("messageFiles/download")) is not None:
            return fault
        code = (await request.json()).get("downloadCode", "")
        if code not in self.files:
            return web.json_response({"code": "invalidDownloadCode", "message": "下载码无效"}, status=400)
        return web.json_response({"downloadUrl": f"{self.base_url}/files/{code}"})

    async def _process_instance(self, request: web.Request) -> web.Response:
        if (denied := self._authorized(request)) is not None:
            return denied
        if (fault := await self.faults.take("processInstances")) is not None:
            return fault
        instance = self.workflow.get(request.query.get("processInstanceId", ""))
        if instance is None:
            return web.json_response({"code": "processInstanceId.notFound", "message": "审批实例不存在"}, status=400)
        return web.json_response({"success": True, "result": instance})

    async def _file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["code"])
        return web.Response(body=data) if data is not None else web.Response(status=404)

    # -- old-style oapi ----------------------------------------------------------------------------------
    async def _oapi_token(self, request: web.Request) -> web.Response:
        if (fault := await self.faults.take("gettoken")) is not None:
            return fault
        q = request.query
        if q.get("appkey") != self.client_id or q.get("appsecret") != self.client_secret:
            return web.json_response({"errcode": 40089, "errmsg": "不合法的corpid或corpsecret"})
        token = secrets.token_hex(16)
        self.oapi_tokens[token] = time.time() + 7200
        return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})

    async def _media_upload(self, request: web.Request) -> web.Response:
        expires = self.oapi_tokens.get(request.query.get("access_token", ""))
        if expires is None:
            return web.json_response({"errcode": 40014, "errmsg": "不合法的access_token"})
        if expires < time.time():
            return web.json_response({"errcode": 42001, "errmsg": "access_token超时"})
        if (fault := await self.faults.take("media/upload")) is not None:
            return fault
        form = await request.post()
        media_type = str(form.get("type") or request.query.get("type", ""))
        media = form.get("media")
        if media_type not in ("image", "voice", "video", "file"):
            return web.json_response({"errcode": 40004, "errmsg": "不合法的媒体文件类型"})
        if not isinstance(media, web.FileField):
            return web.json_response({"errcode": 41001, "errmsg": "缺少 media 文件"})
        media_id = "@lA" + secrets.token_urlsafe(18)
        self.media[media_id] = (media.filename, media.file.read())
        self.media_types[media_id] = media_type
        await self._notify()
        return web.json_response({"errcode": 0, "errmsg": "ok", "media_id": media_id, "type": media_type,
                                  "created_at": int(time.time() * 1000)})

    async def _record(self, sent: Sent) -> None:
        sent.seq = next(self._seq)
        self.ledger.append(sent)
        waiter = self._reply_waiters.pop(sent.in_reply_to, None) if sent.kind == "reply" else None
        if waiter is not None and not waiter.done():
            waiter.set_result(sent)
        await self._notify()
