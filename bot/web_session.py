"""Sessions for the bot's own web pages (the 监督看板 H5 微应用): 免登, a signed expiring cookie, CSRF.

No business here. Who the user is comes from DingTalk: the page asks the DingTalk client for an
authCode (`dd.runtime.permission.requestAuthCode`), posts it to `POST <prefix>/login`, and the
server exchanges it for the userId (bot/dingtalk_api.py `user_by_auth_code`). What the user may
see is the business of the pages (handlers/dashboard/).

The cookie holds `[userId, expiry, nonce]`, signed with HMAC-SHA256; it is HttpOnly, SameSite=Lax,
Secure when the pages are served over https. Each session has a CSRF token (an HMAC of its nonce):
pages put it in their forms, and every POST except the sign-in must send it back (form field
`csrf` or header `X-CSRF-Token`); a POST from another origin is refused. The sign-in POST is JSON
(a cross-site form cannot send it without a CORS preflight, which is never granted) and only
accepts a code that DingTalk itself confirms.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

log = logging.getLogger(__name__)

COOKIE = "bb_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
SIGNIN_TEMPLATE = "web_signin.html.j2"
_TEMPLATES = Environment(loader=FileSystemLoader(str(Path(__file__).resolve().parent / "templates")),
                         autoescape=select_autoescape(["html", "j2"]))

ExchangeCode = Callable[[str], Awaitable[str]]  # authCode → userId ("" when DingTalk refuses it)


@dataclass(frozen=True)
class WebSession:
    user_id: str
    expires: int  # unix seconds
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Issues and checks the session cookie and its CSRF token."""

    def __init__(self, secret: str | bytes, max_age_seconds: int, *, secure: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        key = secret.encode() if isinstance(secret, str) else secret
        self._key = key or secrets.token_bytes(32)  # empty: sessions end when the process restarts
        self.max_age = max_age_seconds
        self.secure = secure
        self.clock = clock

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def issue(self, user_id: str) -> tuple[str, WebSession]:
        session = WebSession(user_id, int(self.clock()) + self.max_age, secrets.token_hex(8))
        payload = _b64(json.dumps([session.user_id, session.expires, session.nonce]).encode())
        return f"{payload}.{self._mac(payload)}", session

    def read(self, value: str) -> WebSession | None:
        """The session in a cookie value; None when forged, altered, malformed or expired."""
        payload, _, mac = value.partition(".")
        if not payload or not hmac.compare_digest(mac.encode(), self._mac(payload).encode()):
            return None
        try:
            user_id, expires, nonce = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            return None
        if not isinstance(user_id, str) or not isinstance(expires, int) or expires <= self.clock():
            return None
        return WebSession(user_id, expires, str(nonce))

    def csrf_token(self, session: WebSession) -> str:
        return self._mac(f"csrf|{session.user_id}|{session.nonce}")

    def session(self, request: web.Request) -> WebSession | None:
        value = request.cookies.get(COOKIE, "")
        return self.read(value) if value else None

    def set_cookie(self, response: web.StreamResponse, user_id: str) -> WebSession:
        value, session = self.issue(user_id)
        response.set_cookie(COOKIE, value, max_age=self.max_age, httponly=True, samesite="Lax",
                            secure=self.secure, path="/")
        return session

    @staticmethod
    def clear_cookie(response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path="/")

    async def csrf_ok(self, request: web.Request, session: WebSession) -> bool:
        """A state-changing request carries this session's token and comes from our own origin."""
        if not same_origin(request):
            return False
        given = request.headers.get(CSRF_HEADER, "")
        if not given and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            given = str((await request.post()).get(CSRF_FIELD, ""))
        return bool(given) and hmac.compare_digest(given.encode(), self.csrf_token(session).encode())


def same_origin(request: web.Request) -> bool:
    """False when the browser says the request comes from another site (Origin, else Referer)."""
    origin = request.headers.get("Origin") or request.headers.get("Referer") or ""
    return not origin or urlsplit(origin).netloc in ("", request.host)


def signin_page(*, title: str, jsapi_url: str, corp_id: str, login_url: str, status: int = 200) -> web.Response:
    """The page that signs a user in without a password inside DingTalk (免登), then reloads itself."""
    html = _TEMPLATES.get_template(SIGNIN_TEMPLATE).render(
        title=title, jsapi_url=jsapi_url, corp_id=corp_id, login_url=login_url)
    return web.Response(text=html, content_type="text/html", charset="utf-8", status=status,
                        headers={"Cache-Control": "no-store"})


def login_handler(signer: SessionSigner, exchange: ExchangeCode) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`POST …/login` with JSON `{"code": authCode}`: asks DingTalk who it is and sets the cookie."""

    async def login(request: web.Request) -> web.Response:
        if not same_origin(request):
            return web.json_response({"error": "请求来源不正确"}, status=403)
        if request.content_type != "application/json":
            return web.json_response({"error": "请求格式错误"}, status=415)
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        code = str(body.get("code", "")).strip() if isinstance(body, dict) else ""
        if not code or len(code) > 200:
            return web.json_response({"error": "缺少免登授权码"}, status=400)
        try:
            user_id = await exchange(code)
        except Exception as e:  # DingTalk unreachable: tell the page, never crash the server
            log.warning("免登 exchange failed: %s", e)
            return web.json_response({"error": "暂时无法连接钉钉，请稍后重试"}, status=502)
        if not user_id:
            return web.json_response({"error": "免登授权码无效或已过期，请重新打开页面"}, status=401)
        response = web.json_response({"ok": True})
        signer.set_cookie(response, user_id)
        log.info("web sign-in: %s", user_id)
        return response

    return login


def logout_handler(signer: SessionSigner, after: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`POST …/logout` (CSRF-checked): clears the cookie and goes to `after`."""

    async def logout(request: web.Request) -> web.Response:
        session = signer.session(request)
        if session is None:
            return web.Response(text="会话已失效，请重新打开页面。", status=401)
        if not await signer.csrf_ok(request, session):
            return web.Response(text="请求来源校验失败（CSRF），请刷新页面后重试。", status=403)
        response = web.Response(status=303, headers={"Location": after})
        signer.clear_cookie(response)
        return response

    return logout
