"""DingTalk in: the official `dingtalk-stream` client, made safe for an asyncio service.

We keep the SDK's frame classes, handler classes and `route_message` (the real protocol code)
and replace what blocks or breaks:
- `open_connection` uses `requests` synchronously: ours posts with aiohttp, with a timeout, to
  the configured endpoint;
- `start` sleeps fixed times and dies on an early error: ours reconnects with full-jitter
  backoff, and a watchdog closes a socket that has been silent too long (DingTalk sends a SYSTEM
  ping frame every 20-30 s on a healthy connection);
- the bot-message handler acks at once and handles the message in a tracked background task;
- a malformed frame (data that is not JSON, fields of the wrong type, anything the SDK's
  parsers choke on) is logged with its messageId, acked once and dropped: nothing a frame
  carries closes the connection (an unacked frame would be redelivered, again and again).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import websockets
import websockets.exceptions
from dingtalk_stream import (
    AckMessage,
    CallbackHandler,
    CallbackMessage,
    ChatbotMessage,
    Credential,
    DingTalkStreamClient,
    SystemMessage,
)
from dingtalk_stream.version import VERSION_STRING

log = logging.getLogger(__name__)

MessageCallback = Callable[[ChatbotMessage, dict[str, Any]], Awaitable[None]]


class BotMessageHandler(CallbackHandler):
    """Acks a bot message at once; the callback runs later in a task the client tracks."""

    def __init__(self, client: StreamClient, on_message: MessageCallback) -> None:
        super().__init__()
        self._client = client
        self._on_message = on_message

    async def process(self, callback: CallbackMessage) -> tuple[int, str]:
        raw = callback.data
        reason = malformed_bot_message(raw)
        if not reason:
            try:
                message = ChatbotMessage.from_dict(raw)
            except Exception as e:  # the SDK's parser: int(), iteration, missing keys
                reason = f"{type(e).__name__}: {e}"
        if reason:
            log.warning("malformed bot message in frame %s dropped: %s", callback.headers.message_id, reason[:200])
            return AckMessage.STATUS_OK, "OK"  # acked, so DingTalk does not redeliver it
        if not message.message_id:  # fall back to the frame id for dedup
            message.message_id = callback.headers.message_id
        self._client.spawn(self._on_message(message, raw))
        return AckMessage.STATUS_OK, "OK"


_STRINGS = ("msgId", "msgtype", "senderStaffId", "senderNick", "senderId", "conversationId", "sessionWebhook",
            "conversationTitle", "robotCode", "chatbotUserId")
_CONTENT_STRINGS = ("downloadCode", "fileName", "recognition")


def malformed_bot_message(raw: Any) -> str:
    """Why the `data` of a bot-message frame cannot be handled ("" when it can): the fields the
    SDK parses and dispatch reads must have the types DingTalk sends."""
    if not isinstance(raw, dict):
        return f"data is {type(raw).__name__}, not an object"
    for key in _STRINGS:
        if key in raw and not isinstance(raw[key], str | None):
            return f"{key} is {type(raw[key]).__name__}"
    if not isinstance(raw.get("conversationType", ""), str | int):
        return "conversationType is not a string"
    for key in ("sessionWebhookExpiredTime", "createAt"):
        if key in raw and not _integer(raw[key]):
            return f"{key} is not an integer"
    at_users = raw.get("atUsers", [])
    if not isinstance(at_users, list) or not all(isinstance(u, dict) for u in at_users):
        return "atUsers is not a list of objects"
    msgtype = raw.get("msgtype")
    if msgtype == "text":
        text = raw.get("text")
        if not isinstance(text, dict) or not isinstance(text.get("content"), str):
            return "text message without text.content"
    elif msgtype in ("picture", "richText", "file", "audio", "video"):
        content = raw.get("content")
        if not isinstance(content, dict):
            return f"{msgtype} message without content"
        if any(not isinstance(content.get(k, ""), str) for k in _CONTENT_STRINGS):
            return f"{msgtype} content has a field of the wrong type"
        items = content.get("richText", [])
        if not isinstance(items, list) or not all(_rich_item(i) for i in items):
            return "richText is not a list of objects"
    return ""


def _integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 30


def _rich_item(item: Any) -> bool:
    return isinstance(item, dict) and all(isinstance(item.get(k, ""), str) for k in ("text", "downloadCode"))


class StreamClient(DingTalkStreamClient):
    """The SDK client with a non-blocking connection loop."""

    def __init__(
        self,
        credential: Credential,
        *,
        api_endpoint: str,
        http: aiohttp.ClientSession,
        http_timeout: float = 10.0,
        watchdog_seconds: float = 90.0,
    ) -> None:
        super().__init__(credential, logger=logging.getLogger("dingtalk_stream.client"))
        self.open_connection_api = api_endpoint.rstrip("/") + "/v1.0/gateway/connections/open"
        self._http = http
        self._timeout = aiohttp.ClientTimeout(total=http_timeout)
        self._watchdog = watchdog_seconds
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self.connected = asyncio.Event()
        self.connections = 0  # how many sockets were opened (for health and tests)

    # -- the blocking SDK calls must never run -------------------------------------------------
    def open_connection(self):
        raise RuntimeError("blocking open_connection is replaced by open_connection_async")

    def get_access_token(self):
        raise RuntimeError("use bot.dingtalk_api.DingTalkAPI for tokens")

    # -- lifecycle ---------------------------------------------------------------------------------
    def register_bot_handler(self, on_message: MessageCallback) -> None:
        self.register_callback_handler(ChatbotMessage.TOPIC, BotMessageHandler(self, on_message))

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run `coro` in the background, keeping a reference so it is neither lost nor GC'd."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for in-flight message tasks (graceful shutdown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def stop(self) -> None:
        self._stopping = True
        if self.websocket is not None:
            await self.websocket.close()

    async def run(self) -> None:
        """Connect, serve, and reconnect with backoff until `stop()`."""
        self.pre_start()
        failures = 0
        while not self._stopping:
            try:
                connection = await self.open_connection_async()
                uri = f"{connection['endpoint']}?ticket={quote_plus(connection['ticket'])}"
                async with websockets.connect(uri, ping_interval=20, ping_timeout=20, proxy=None) as ws:
                    failures = 0
                    await self._serve(ws)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # network errors, bad answers, closed sockets
                if self._stopping:
                    break
                failures += 1
                log.warning("stream connection failed (%s): %s", type(e).__name__, e)
            finally:
                self.websocket = None
                self.connected.clear()
            if not self._stopping:
                await asyncio.sleep(backoff_delay(failures))

    async def open_connection_async(self) -> dict[str, Any]:
        topics = [{"type": "EVENT", "topic": "*"}] if self._is_event_required else []
        topics += [{"type": "CALLBACK", "topic": t} for t in self.callback_handler_map]
        body = {
            "clientId": self.credential.client_id,
            "clientSecret": self.credential.client_secret,
            "subscriptions": topics,
            "ua": f"dingtalk-sdk-python/v{VERSION_STRING}-union bianban-bot",
            "localIp": "",
        }
        async with self._http.post(self.open_connection_api, json=body, timeout=self._timeout) as resp:
            text = await resp.text()
            if resp.status != 200:
                raise ConnectionError(f"connections/open HTTP {resp.status}: {text[:200]}")
        data = json.loads(text)
        if not data.get("endpoint") or not data.get("ticket"):
            raise ConnectionError(f"connections/open answered without endpoint/ticket: {text[:200]}")
        return data

    async def _serve(self, ws: Any) -> None:
        self.websocket = ws
        self.connections += 1
        self.connected.set()
        log.info("stream connected")
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=self._watchdog)
            except TimeoutError:
                log.warning("stream silent for %.0f s, reconnecting", self._watchdog)
                await ws.close()
                return
            try:
                frame = json.loads(raw)
                headers = frame.get("headers") if isinstance(frame, dict) else None
                if not isinstance(headers, dict):
                    raise ValueError("a frame without headers")
            except ValueError as e:  # not even a frame: there is no messageId to ack
                log.warning("unreadable stream frame dropped (%s): %.200r", e, raw)
                continue
            if frame.get("type") == "SYSTEM" and headers.get("topic") == "ping":
                await self._pong(ws, frame)  # the SDK would log every ping as an unknown topic
                continue
            # route_message (SDK) acks and reports a disconnect; our handlers return at once
            try:
                result = await self.route_message(frame)
            except websockets.exceptions.ConnectionClosed:
                raise
            except Exception as e:  # the SDK's frame parsers; the ack is sent last, so none went out
                log.warning("malformed frame %s dropped (%s: %.200s)", headers.get("messageId"), type(e).__name__, e)
                await self._ack_dropped(ws, headers)
                continue
            if result == DingTalkStreamClient.TAG_DISCONNECT:
                log.info("server asked to disconnect, reconnecting")
                await ws.close()
                return

    async def _ack_dropped(self, ws: Any, headers: dict[str, Any]) -> None:
        """Ack a frame we could not parse, so that DingTalk does not redeliver it."""
        message_id = headers.get("messageId")
        if not isinstance(message_id, str) or not message_id:
            return
        ack = AckMessage()
        ack.headers.message_id = message_id
        ack.headers.content_type = "application/json"
        ack.message = "OK"
        ack.data = {"response": "dropped: malformed"}
        await ws.send(json.dumps(ack.to_dict()))

    async def _pong(self, ws: Any, frame: dict[str, Any]) -> None:
        ack = await self.system_handler.raw_process(SystemMessage.from_dict(frame))  # echoes `opaque`
        await ws.send(json.dumps(ack.to_dict()))


def backoff_delay(failures: int, base: float = 1.0, cap: float = 60.0) -> float:
    """Full-jitter exponential backoff: uniform(0, min(cap, base * 2**failures))."""
    if failures <= 0:
        return 0.0
    return random.uniform(0, min(cap, base * 2 ** min(failures, 16)))
