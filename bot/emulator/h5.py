"""免登 for H5 微应用 pages in the emulator: what the DingTalk client and the user-info API do.

- `GET /h5/dd.js`: a stand-in for the DingTalk JSAPI (`dd.ready`, `dd.error`,
  `dd.runtime.permission.requestAuthCode`). In the real client the user is whoever is signed in
  to DingTalk; here it is the `dd_user` query parameter of the page's own address (the demo's
  看板 links carry it). The page never reads it: it only gets an authCode.
- `GET /h5/authCode?userId=&corpId=`: issues a one-time code, valid five minutes (the client side).
- `POST /topapi/v2/user/getuserinfo?access_token=` with `{"code"}`: the server-side exchange, as
  DingTalk answers it (`{errcode, errmsg, result: {userid, name, …}}`; 40078 for an unknown code).
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.emulator.server import Emulator

SHIM = Path(__file__).resolve().parent / "dd_shim.js"
CODE_SECONDS = 300


def add_h5_routes(emu: Emulator) -> None:
    codes: dict[str, tuple[str, float]] = {}  # authCode -> (userId, expiry)
    emu.auth_codes = codes

    async def shim(_request: web.Request) -> web.Response:
        return web.Response(text=SHIM.read_text(encoding="utf-8"), content_type="application/javascript",
                            charset="utf-8", headers={"Cache-Control": "no-store"})

    async def auth_code(request: web.Request) -> web.Response:
        cors = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"}
        user, corp = request.query.get("userId", ""), request.query.get("corpId", "")
        if corp != emu.corp_id:
            return web.json_response({"errorCode": "3", "errorMessage": f"corpId 不正确：{corp}"},
                                     status=400, headers=cors)
        if not user:
            return web.json_response({"errorCode": "7", "errorMessage": "当前未登录钉钉"}, status=400, headers=cors)
        code = secrets.token_hex(16)
        codes[code] = (user, time.time() + CODE_SECONDS)
        return web.json_response({"code": code}, headers=cors)

    async def user_info(request: web.Request) -> web.Response:
        expires = emu.oapi_tokens.get(request.query.get("access_token", ""))
        if expires is None or expires < time.time():
            return web.json_response({"errcode": 40014, "errmsg": "不合法的access_token"})
        body = await request.json()
        user, until = codes.pop(str(body.get("code", "")), ("", 0.0))  # a code works once
        if not user or until < time.time():
            return web.json_response({"errcode": 40078, "errmsg": "不存在的临时授权码"})
        return web.json_response({"errcode": 0, "errmsg": "ok", "request_id": secrets.token_hex(6), "result": {
            "userid": user, "name": "", "unionid": "u" + user, "sys": False, "sys_level": 0,
            "associated_unionid": "", "device_id": "emulator"}})

    emu.app.add_routes([web.get("/h5/dd.js", shim), web.get("/h5/authCode", auth_code),
                        web.post("/topapi/v2/user/getuserinfo", user_info)])
