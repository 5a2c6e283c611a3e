"""DingTalk out: sessionWebhook replies and proactive robot messages, over aiohttp.

Every call has a timeout. The access token is cached, refreshed five minutes before it expires
and again when DingTalk answers InvalidAuthentication (a 400, which the SDK misses). Errors are
classified for the outbox: `retryable` (5xx, 429, throttling, connection refused) or permanent,
and `ambiguous` when the request may have reached DingTalk (a timeout after sending).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.config import DingTalkConfig

log = logging.getLogger(__name__)

THROTTLE_CODES = {"90002", "90006", "90018", "130101", "send.too.fast", "too.many.people", "too.many.group"}
THROTTLE_WORDS = ("Throttling", "QpsLimit", "FlowControl", "ApiCountLimit")
BATCH_LIMIT = 20  # users per oToMessages/batchSend call


class DingTalkError(Exception):
    def __init__(
        self, message: str, *, status: int = 0, code: str = "", retryable: bool = False,
        ambiguous: bool = False, retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retryable = retryable
        self.ambiguous = ambiguous
        self.retry_after = retry_after


@dataclass
class SendResult:
    process_query_key: str = ""
    flow_controlled: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


class DingTalkAPI:
    def __init__(self, cfg: DingTalkConfig, http: aiohttp.ClientSession) -> None:
        self._cfg = cfg
        self._http = http
        self._timeout = aiohttp.ClientTimeout(total=cfg.http_timeout)
        self._token = ""
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self.calls = 0  # HTTP calls made (bench and tests)

    # -- replies ------------------------------------------------------------------------------------
    async def reply(self, session_webhook: str, body: dict[str, Any]) -> None:
        """Answer an inbound message through its sessionWebhook (no token needed)."""
        data = await self._post(session_webhook, body, headers={})
        _check_errcode(data)

    # -- proactive messages ---------------------------------------------------------------------------
    async def batch_send(self, user_ids: list[str], msg_key: str, msg_param: str) -> SendResult:
        if not 0 < len(user_ids) <= BATCH_LIMIT:
            raise ValueError(f"batchSend takes 1..{BATCH_LIMIT} users, got {len(user_ids)}")
        body = {"robotCode": self._cfg.robot, "userIds": user_ids, "msgKey": msg_key, "msgParam": msg_param}
        data = await self._api("/v1.0/robot/oToMessages/batchSend", body)
        return SendResult(
            process_query_key=data.get("processQueryKey", ""),
            flow_controlled=list(data.get("flowControlledStaffIdList") or []),
            invalid=list(data.get("invalidStaffIdList") or []),
        )

    async def group_send(self, conversation_id: str, msg_key: str, msg_param: str) -> SendResult:
        body = {
            "robotCode": self._cfg.robot, "openConversationId": conversation_id,
            "msgKey": msg_key, "msgParam": msg_param,
        }
        data = await self._api("/v1.0/robot/groupMessages/send", body)
        return SendResult(process_query_key=data.get("processQueryKey", ""))

    async def file_download_url(self, download_code: str) -> str:
        body = {"robotCode": self._cfg.robot, "downloadCode": download_code}
        data = await self._api("/v1.0/robot/messageFiles/download", body)
        return str(data.get("downloadUrl", ""))

    # -- token and transport ----------------------------------------------------------------------------
    async def access_token(self, *, force: bool = False) -> str:
        async with self._token_lock:
            if not force and self._token and time.monotonic() < self._token_expires:
                return self._token
            url = self._cfg.api_endpoint.rstrip("/") + "/v1.0/oauth2/accessToken"
            body = {"appKey": self._cfg.client_id, "appSecret": self._cfg.client_secret}
            data = await self._post(url, body, headers={})
            token = data.get("accessToken")
            if not token:
                raise DingTalkError("获取 access token 失败", code=str(data.get("code", "")))
            self._token = token
            self._token_expires = time.monotonic() + float(data.get("expireIn", 7200)) - 300
            return token

    async def _api(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = self._cfg.api_endpoint.rstrip("/") + path
        for attempt in (1, 2):
            token = await self.access_token(force=attempt == 2)
            try:
                return await self._post(url, body, headers={"x-acs-dingtalk-access-token": token})
            except DingTalkError as e:
                if e.code == "InvalidAuthentication" and attempt == 1:
                    log.info("access token rejected, refreshing")
                    continue
                raise
        raise AssertionError("unreachable")

    async def _post(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        self.calls += 1
        try:
            async with self._http.post(url, json=body, headers=headers, timeout=self._timeout) as resp:
                text = await resp.text()
                return _parse_response(resp.status, resp.headers.get("Retry-After"), text)
        except aiohttp.ClientConnectorError as e:  # nothing was sent
            raise DingTalkError(f"无法连接钉钉：{e.os_error}", retryable=True) from None
        except (TimeoutError, aiohttp.ServerTimeoutError) as e:
            raise DingTalkError(f"钉钉接口超时：{type(e).__name__}", retryable=True, ambiguous=True) from None
        except aiohttp.ClientError as e:
            raise DingTalkError(f"钉钉接口连接错误：{type(e).__name__}", retryable=True, ambiguous=True) from None


def _parse_response(status: int, retry_after: str | None, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text else {}
    except json.JSONDecodeError:  # e.g. the HTML page of an IP ban
        data = {}
    if not isinstance(data, dict):
        data = {}
    if status < 400:
        return data
    code = str(data.get("code") or data.get("errcode") or "")
    message = str(data.get("message") or data.get("errmsg") or text[:200])
    throttled = status == 429 or code in THROTTLE_CODES or any(w in code for w in THROTTLE_WORDS)
    raise DingTalkError(
        f"钉钉接口错误 HTTP {status} {code} {message}".strip(), status=status, code=code,
        retryable=throttled or status >= 500, retry_after=_seconds(retry_after),
    )


def _check_errcode(data: dict[str, Any]) -> None:
    code = data.get("errcode", 0)
    if code in (0, "0", None):
        return
    raise DingTalkError(
        f"钉钉返回错误 {code} {data.get('errmsg', '')}".strip(), code=str(code),
        retryable=str(code) in THROTTLE_CODES,
    )


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
