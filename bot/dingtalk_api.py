"""DingTalk out: sessionWebhook replies, proactive robot messages, file download and media upload.

Every call has a timeout. The access token is cached, refreshed five minutes before it expires
and again when DingTalk answers InvalidAuthentication (a 400, which the SDK misses). Errors are
classified for the outbox: `retryable` (5xx, 429, throttling, connection refused) or permanent,
and `ambiguous` when the request may have reached DingTalk (a timeout after sending).
Media upload is an old-style oapi call: its own token (`gettoken`), passed as `?access_token=`,
and errors as `{errcode, errmsg}` in an HTTP 200.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.config import DingTalkConfig
from bot.files import read_capped

log = logging.getLogger(__name__)

THROTTLE_CODES = {"90002", "90006", "90018", "130101", "send.too.fast", "too.many.people", "too.many.group"}
THROTTLE_WORDS = ("Throttling", "QpsLimit", "FlowControl", "ApiCountLimit")
BATCH_LIMIT = 20  # users per oToMessages/batchSend call
OAPI_TOKEN_CODES = {"40014", "42001"}  # oapi: invalid / expired access_token
OAPI_BUSY_CODES = {"-1"}  # oapi: 系统繁忙
MEDIA_TYPES = ("image", "voice", "video", "file")


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
        self._oapi_token = ""
        self._oapi_expires = 0.0
        self._oapi_lock = asyncio.Lock()
        self.calls = 0  # HTTP calls made (bench and tests)

    # -- replies ------------------------------------------------------------------------------------
    async def reply(self, session_webhook: str, body: dict[str, Any]) -> None:
        """Answer an inbound message through its sessionWebhook (no token needed)."""
        data = await self._post(session_webhook, body, headers={})
        _check_errcode(data)

    # -- proactive messages ---------------------------------------------------------------------------
    async def batch_send(self, user_ids: list[str], msg_key: str, msg_param: str, *,
                         timeout: float | None = None) -> SendResult:
        if not 0 < len(user_ids) <= BATCH_LIMIT:
            raise ValueError(f"batchSend takes 1..{BATCH_LIMIT} users, got {len(user_ids)}")
        body = {"robotCode": self._cfg.robot, "userIds": user_ids, "msgKey": msg_key, "msgParam": msg_param}
        data = await self._api("/v1.0/robot/oToMessages/batchSend", body, timeout=timeout)
        return SendResult(
            process_query_key=data.get("processQueryKey", ""),
            flow_controlled=list(data.get("flowControlledStaffIdList") or []),
            invalid=list(data.get("invalidStaffIdList") or []),
        )

    async def group_send(self, conversation_id: str, msg_key: str, msg_param: str, *,
                         timeout: float | None = None) -> SendResult:
        body = {
            "robotCode": self._cfg.robot, "openConversationId": conversation_id,
            "msgKey": msg_key, "msgParam": msg_param,
        }
        data = await self._api("/v1.0/robot/groupMessages/send", body, timeout=timeout)
        return SendResult(process_query_key=data.get("processQueryKey", ""))

    async def file_download_url(self, download_code: str) -> str:
        body = {"robotCode": self._cfg.robot, "downloadCode": download_code}
        data = await self._api("/v1.0/robot/messageFiles/download", body)
        return str(data.get("downloadUrl", ""))

    async def download(self, download_code: str, max_bytes: int) -> bytes:
        """The content of a picture or file a user sent; more than `max_bytes` is refused unread."""
        url = await self.file_download_url(download_code)
        if not url:
            raise DingTalkError("钉钉未返回文件下载地址")
        too_big = DingTalkError(f"文件超过 {_size(max_bytes)} 上限", code="FileTooLarge")
        t = self._cfg.http_timeout
        timeout = aiohttp.ClientTimeout(total=max(60.0, 6 * t), sock_connect=t, sock_read=t)
        self.calls += 1
        try:
            async with self._http.get(url, timeout=timeout) as resp:  # a signed URL: no token
                if resp.status >= 400:
                    raise DingTalkError(f"下载文件失败 HTTP {resp.status}", status=resp.status,
                                        retryable=resp.status >= 500 or resp.status == 429)
                data = await read_capped(resp.content, resp.content_length, max_bytes)
                if data is None:
                    raise too_big
                return data
        except aiohttp.ClientConnectorError as e:
            raise DingTalkError(f"无法连接文件服务器：{e.os_error}", retryable=True) from None
        except (TimeoutError, aiohttp.ClientError) as e:
            raise DingTalkError(f"下载文件中断：{type(e).__name__}", retryable=True) from None

    # -- OA approvals (审批) ------------------------------------------------------------------------------
    async def process_instance(self, instance_id: str) -> dict[str, Any]:
        """`GET /v1.0/workflow/processInstances`: an OA instance's `result` (title, status, result, businessId,
        originatorUserId, createTime, finishTime, tasks, operationRecords…)."""
        data = await self._api_get("/v1.0/workflow/processInstances", {"processInstanceId": instance_id})
        result = data.get("result")
        if not isinstance(result, dict):
            raise DingTalkError(f"审批实例 {instance_id} 查询未返回 result")
        return result

    async def dry_call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Call a new-style API as is (`doctor` probes permissions with parameters DingTalk refuses)."""
        return await self._with_token(method, path, **kwargs)

    # -- H5 微应用 免登 ----------------------------------------------------------------------------------------
    async def user_by_auth_code(self, code: str) -> str:
        """The userId behind a 免登 authCode (`POST oapi /topapi/v2/user/getuserinfo`); "" when DingTalk
        does not know the code (expired, used, or forged)."""
        url = self._cfg.oapi_endpoint.rstrip("/") + "/topapi/v2/user/getuserinfo"
        for attempt in (1, 2):
            token = await self.oapi_token()
            result = await self._send("POST", url, params={"access_token": token}, json={"code": code})
            errcode = str(result.get("errcode", 0))
            if errcode in OAPI_TOKEN_CODES and attempt == 1:
                self._forget_oapi_token(token)
                continue
            if errcode != "0":
                log.info("authCode refused by DingTalk: errcode %s", errcode)
                return ""
            return str((result.get("result") or {}).get("userid") or "")
        return ""

    # -- old-style oapi: media upload ---------------------------------------------------------------------
    async def upload_media(self, data: bytes, file_name: str, media_type: str = "file") -> str:
        """Upload a file for sampleFile / sampleImageMsg / sampleAudio; returns its media_id."""
        if media_type not in MEDIA_TYPES:
            raise ValueError(f"media_type must be one of {MEDIA_TYPES}, got {media_type!r}")
        url = self._cfg.oapi_endpoint.rstrip("/") + "/media/upload"
        file_name = "".join(ch for ch in file_name if ch.isprintable()).strip() or "file"  # no header injection
        content_type = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        for attempt in (1, 2):
            token = await self.oapi_token()
            form = aiohttp.FormData(quote_fields=False)  # raw UTF-8 file names, as the SDK (requests) sends
            form.add_field("type", media_type)
            form.add_field("media", data, filename=file_name, content_type=content_type)
            try:
                result = await self._send("POST", url, params={"access_token": token}, data=form)
                _check_errcode(result, retryable=OAPI_BUSY_CODES)
            except DingTalkError as e:
                if e.code in OAPI_TOKEN_CODES and attempt == 1:
                    log.info("oapi token rejected (%s), refreshing", e.code)
                    self._forget_oapi_token(token)
                    continue
                raise
            if not result.get("media_id"):
                raise DingTalkError("上传文件未返回 media_id")
            return str(result["media_id"])
        raise AssertionError("unreachable")

    async def oapi_token(self, *, force: bool = False) -> str:
        """The token of the old oapi host (gettoken), cached until five minutes before it expires."""
        async with self._oapi_lock:
            if not force and self._oapi_token and time.monotonic() < self._oapi_expires:
                return self._oapi_token
            url = self._cfg.oapi_endpoint.rstrip("/") + "/gettoken"
            params = {"appkey": self._cfg.client_id, "appsecret": self._cfg.client_secret}
            data = await self._send("GET", url, params=params)
            _check_errcode(data, retryable=OAPI_BUSY_CODES)
            token = data.get("access_token")
            if not token:
                raise DingTalkError("获取 oapi access token 失败")
            self._oapi_token = str(token)
            self._oapi_expires = time.monotonic() + float(data.get("expires_in", 7200)) - 300
            return self._oapi_token

    def _forget_oapi_token(self, token: str) -> None:
        """Drop a rejected token unless a concurrent call has already replaced it."""
        if self._oapi_token == token:
            self._oapi_token, self._oapi_expires = "", 0.0

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

    async def _api(self, path: str, body: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """`timeout` (seconds) replaces http_timeout: the outbox keeps listening for a late answer."""
        return await self._with_token("POST", path, json=body, timeout=timeout)

    async def _api_get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        return await self._with_token("GET", path, params=params)

    async def _with_token(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = self._cfg.api_endpoint.rstrip("/") + path
        for attempt in (1, 2):
            token = await self.access_token(force=attempt == 2)
            try:
                return await self._send(method, url, headers={"x-acs-dingtalk-access-token": token}, **kwargs)
            except DingTalkError as e:
                if e.code == "InvalidAuthentication" and attempt == 1:
                    log.info("access token rejected, refreshing")
                    continue
                raise
        raise AssertionError("unreachable")

    async def _post(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        return await self._send("POST", url, json=body, headers=headers)

    async def _send(self, method: str, url: str, *, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        limit = aiohttp.ClientTimeout(total=timeout) if timeout else self._timeout
        try:
            async with self._http.request(method, url, timeout=limit, **kwargs) as resp:
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


def _check_errcode(data: dict[str, Any], retryable: set[str] | frozenset[str] = frozenset()) -> None:
    code = data.get("errcode", 0)
    if code in (0, "0", None):
        return
    raise DingTalkError(
        f"钉钉返回错误 {code} {data.get('errmsg', '')}".strip(), code=str(code),
        retryable=str(code) in THROTTLE_CODES or str(code) in retryable,
    )


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _size(n: int) -> str:
    return f"{n / 1048576:.4g} MB" if n >= 1048576 else f"{n / 1024:.4g} KB" if n >= 1024 else f"{n} 字节"
