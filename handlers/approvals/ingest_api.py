"""`POST /api/approvals`: platforms that can push send approval items to the bot's HTTP server.

`Authorization: Bearer <[server] api_token>`; the endpoint answers 404 while the token is empty.
The body is a JSON list of items, or `{"items": [...]}`, with the keys of
handlers.approvals.import_approvals.API_KEYS. Every item is checked as a row of `import approvals` is (the
same function); one bad item refuses the request and nothing is written. Accepted items go
through handlers.approvals.sync.apply_items in one transaction, as the file and OA events do.

Answers: 200 `{"added", "updated", "unchanged"}`; 400 `{"error", "details": ["第1项 unit: …"]}`,
also for any body that is not UTF-8 JSON (too deep, NaN, over-long integers, empty); 401 without
the right token; 404 when disabled; 413 over MAX_BYTES or MAX_ITEMS; 415 for a form, XML or other
non-JSON Content-Type. Nothing a body holds answers 500.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.context import Services
from bot.files import read_capped
from bot.importing.base import ImportRejected
from handlers.approvals.import_approvals import ItemErrors, Lookup, json_rows, sync_audit, validate_rows
from handlers.approvals.sync import apply_items

log = logging.getLogger(__name__)

MAX_BYTES = 5 * 1024 * 1024
MAX_ITEMS = 5000
MAX_DETAILS = 200  # error lines returned; the count says how many there were


def add_ingest_routes(app: web.Application, services: Services, *, nudge: Callable[[], None] | None = None) -> None:
    """Add `POST /api/approvals` to the bot's aiohttp app."""
    app.router.add_post("/api/approvals", IngestAPI(services, nudge).approvals)


def _error(status: int, message: str, details: list[str] | None = None, *,
           headers: dict[str, str] | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if details is not None:
        body["details"] = details
    return web.json_response(body, status=status, headers=headers or None,
                             dumps=lambda obj: json.dumps(obj, ensure_ascii=False))


class IngestAPI:
    def __init__(self, services: Services, nudge: Callable[[], None] | None = None) -> None:
        self.services = services
        self.nudge = nudge

    def _denied(self, request: web.Request) -> web.Response | None:
        token = self.services.config.server.api_token
        if not token:
            return _error(404, "接口未启用：请在配置文件 [server] api_token（或环境变量 BOT_API_TOKEN）中设置令牌")
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            log.warning("POST %s refused: missing or wrong token (from %s)", request.path, request.remote)
            return _error(401, "未授权：请在 Authorization 头中提供正确的令牌（Bearer <api_token>）",
                          headers={"WWW-Authenticate": 'Bearer realm="bianban"'})
        return None

    async def approvals(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        if not _json_type(request.content_type):
            return _error(415, "请求体应为 JSON（Content-Type: application/json），"
                               f"收到的是 {request.content_type[:60]}")
        body = await _read_limited(request)
        if body is None:
            return _error(413, f"请求体超过 {MAX_BYTES // 1048576} MB 上限，请分批推送")
        payload, problem = parse_json(body)
        if problem:
            return _error(400, f"请求体不是有效的 JSON（UTF-8）：{problem}")
        items = payload.get("items") if isinstance(payload, dict) else payload
        if not isinstance(items, list):
            return _error(400, "请求体应为事项列表 [{…}, …]，或 {\"items\": [{…}, …]}")
        if len(items) > MAX_ITEMS:
            return _error(413, f"一次最多推送 {MAX_ITEMS} 项（本次 {len(items)} 项），请分批推送")
        services = self.services
        errors = ItemErrors()
        rows = json_rows(items, errors)
        cal = await services.calendar()
        try:
            async with services.db.write() as session:
                data = list(validate_rows(rows, await Lookup.load(session), errors))
                errors.raise_if_any()
                result = await apply_items(session, data, source="api", cal=cal, renderer=services.renderer,
                                           rules=services.rules, now=services.clock())
                sync_audit(session, "api.approvals", f"api:{request.remote or ''}", "", result)
        except ImportRejected as rejected:
            lines = rejected.lines
            more = [f"……另有 {len(lines) - MAX_DETAILS} 处错误"] if len(lines) > MAX_DETAILS else []
            return _error(400, f"有 {len(lines)} 处错误，未写入任何事项", lines[:MAX_DETAILS] + more)
        log.info("POST /api/approvals: %d added, %d updated, %d unchanged, %d notices",
                 result.added, result.updated, result.unchanged, result.notified)
        if result.notified and self.nudge:
            self.nudge()
        return web.json_response({"added": result.added, "updated": result.updated, "unchanged": result.unchanged})


def _json_type(content_type: str) -> bool:
    """JSON, or a type a simple client sends it as; forms, multipart and XML are refused."""
    return content_type in ("", "application/octet-stream", "text/plain") or content_type.endswith(
        ("/json", "+json"))


def parse_json(body: bytes) -> tuple[Any, str]:
    """(payload, "") or (None, the reason in Chinese). Never raises: nesting too deep for the parser,
    NaN/Infinity, integers too long to convert and bytes that are not UTF-8 are all reasons."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"第 {exc.start + 1} 个字节不是 UTF-8 编码"
    if not text.strip():
        return None, "请求体为空"
    try:
        return json.loads(text, parse_constant=_no_constant), ""
    except json.JSONDecodeError as exc:
        return None, f"第 {exc.lineno} 行第 {exc.colno} 列：{_JSON_ERRORS.get(exc.msg, '格式错误')}"
    except RecursionError:
        return None, "嵌套层数过多"
    except ValueError:
        return None, "含有无法识别的数值（如过长的整数、NaN 或 Infinity）"


_JSON_ERRORS = {
    "Expecting value": "缺少值", "Extra data": "多余的内容", "Unterminated string starting at": "字符串未结束",
    "Expecting property name enclosed in double quotes": "字段名应使用双引号",
    "Expecting ',' delimiter": "缺少逗号", "Expecting ':' delimiter": "缺少冒号",
    "Invalid control character at": "含有控制字符", "Invalid \\escape": "转义符无效",
}


def _no_constant(name: str) -> Any:
    raise ValueError(name)


async def _read_limited(request: web.Request) -> bytes | None:
    """The body, or None when it is larger than MAX_BYTES (read no further than that)."""
    return await read_capped(request.content, request.content_length, MAX_BYTES)
