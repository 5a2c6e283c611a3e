"""The 监督看板 pages on the bot's HTTP server (added by the composition root, bot/app.py).

    GET  /dashboard               the board (sign-in page first when there is no valid session)
    GET  /dashboard/unit/{id}     one unit's problems with deadlines and history
    POST /dashboard/login         免登: {"code": authCode} → session cookie (bot/web_session.py)
    POST /dashboard/logout        CSRF-checked
    GET  /dashboard/static/…      the page's own assets (no CDN: 政务外网)

Pages are jinja2 templates with HTML autoescaping; every figure comes from handlers/dashboard/board.py.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.context import Context, Services
from bot.web_session import SessionSigner, WebSession, login_handler, logout_handler, signin_page
from handlers.dashboard.board import board, unit_page, viewer
from models.accounts.roles import Right, role_labels
from models.accounts.tables import account_by_user
from models.audit import audit

HERE = Path(__file__).resolve().parent
PREFIX = "/dashboard"
STATIC = HERE / "static"
TITLE = "监督看板"
UNITS_SHOWN = 40  # units on the board before 查看全部 (a phone screen or two)
ExchangeCode = Callable[[str], Awaitable[str]]

_env = Environment(loader=FileSystemLoader(str(HERE / "templates")), undefined=StrictUndefined,
                   autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
_env.filters["tojson_attr"] = lambda value: json.dumps(value, ensure_ascii=False)


def dashboard_url(base_url: str) -> str:
    return base_url.rstrip("/") + PREFIX


def add_dashboard_routes(app: web.Application, services: Services, exchange: ExchangeCode) -> None:
    """Add the pages; `exchange` turns a 免登 authCode into the DingTalk userId."""
    cfg = services.config.dashboard
    signer = SessionSigner(cfg.session_secret, cfg.session_hours * 3600,
                           secure=cfg.base_url.startswith("https://"))
    pages = Pages(services, signer)
    app.router.add_get(PREFIX, pages.board)
    app.router.add_get(PREFIX + "/", pages.board)
    app.router.add_get(PREFIX + "/unit/{unit_id:\\d+}", pages.unit)
    app.router.add_post(PREFIX + "/login", login_handler(signer, audited(services, exchange)))
    app.router.add_post(PREFIX + "/logout", logout_handler(signer, PREFIX))
    app.router.add_static(PREFIX + "/static", STATIC, append_version=False)


def audited(services: Services, exchange: ExchangeCode) -> ExchangeCode:
    """Every sign-in to the board leaves an audit row (who, when), as every chat message does."""

    async def signed_in(code: str) -> str:
        user_id = await exchange(code)
        if user_id:
            async with services.db.write() as session:
                account = await account_by_user(session, user_id)
                audit(session, "dashboard.signin", "dashboard", PREFIX, "免登" if account else "免登：未开通账号",
                      actor_account_id=account.id if account else None, actor_user_id=user_id)
        return user_id

    return signed_in


def render(template: str, status: int = 200, **data: Any) -> web.Response:
    html = _env.get_template(template).render(title=TITLE, prefix=PREFIX, UNITS_SHOWN=UNITS_SHOWN, **data)
    return web.Response(text=html, content_type="text/html", charset="utf-8", status=status,
                        headers={"Cache-Control": "no-store", "X-Frame-Options": "SAMEORIGIN",
                                 "Referrer-Policy": "same-origin"})


class Pages:
    def __init__(self, services: Services, signer: SessionSigner) -> None:
        self.services = services
        self.signer = signer

    def _signin(self) -> web.Response:
        cfg = self.services.config.dashboard
        return signin_page(title=TITLE, jsapi_url=cfg.jsapi_url or f"{PREFIX}/static/dingtalk.open.js",
                           corp_id=cfg.corp_id, login_url=f"{PREFIX}/login")

    async def _who(self, request: web.Request) -> tuple[WebSession, Context] | None:
        session = self.signer.session(request)
        if session is None:
            return None
        return session, await viewer(self.services, session.user_id)

    def _common(self, session: WebSession, ctx: Context) -> dict[str, Any]:
        return {"csrf": self.signer.csrf_token(session), "user_id": session.user_id,
                "name": ctx.account.name if ctx.account else "", "roles": role_labels(ctx.roles),
                "my_unit": ctx.unit.label if ctx.unit else ""}

    async def board(self, request: web.Request) -> web.Response:
        who = await self._who(request)
        if who is None:
            return self._signin()
        session, ctx = who
        common = self._common(session, ctx)
        if ctx.account is None:
            return render("dashboard_apply.html.j2", **common)
        if ctx.can(Right.ACCOUNTS_MANAGE) and not any(
                ctx.can(r) for r in (Right.PROBLEM_VIEW, Right.OFFICE_VIEW, Right.FEEDBACK_FILE)):
            return render("dashboard_admin.html.j2", **common)
        data = await board(ctx)
        charts = {s["key"]: s["data"] for s in data["sections"] if s["key"] in ("approvals", "warnings", "feedback")}
        return render("dashboard_board.html.j2", **common, **data, charts=_chart_data(charts),
                      all_units=request.query.get("units") == "all",
                      no_unit=ctx.can(Right.UNIT_OWN) and ctx.unit is None and not ctx.can(Right.OFFICE_VIEW))

    async def unit(self, request: web.Request) -> web.Response:
        who = await self._who(request)
        if who is None:
            return self._signin()
        session, ctx = who
        common = self._common(session, ctx)
        data = await unit_page(ctx, int(request.match_info["unit_id"])) if ctx.account else None
        if data is None:
            return render("dashboard_notice.html.j2", status=404, **common,
                          heading="找不到这个单位", text="该单位不存在，或不在您的查看范围内。")
        return render("dashboard_unit.html.j2", **common, **data)


def _chart_data(sections: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Only the numbers the charts draw (dashboard.js), as plain JSON."""
    out: dict[str, Any] = {}
    if (a := sections.get("approvals")) is not None:
        out["rates"] = {"labels": [m["label"] for m in a["months"]], "values": [m["rate"] for m in a["months"]]}
        out["types"] = {"labels": [t["type"] for t in a["types"]], "values": [t["avg"] for t in a["types"]]}
    if (w := sections.get("warnings")) is not None:
        out["warnings"] = {"labels": [k["rule"] for k in w["kinds"]], "levels": w["levels"],
                           "series": [[k[level] for k in w["kinds"]] for level in w["levels"]]}
    if (f := sections.get("feedback")) is not None:
        rows = f["rows"]
        out["feedback"] = {"labels": [r["quarter"] for r in rows], "names": ["收到", "受理", "办结答复", "转整改"],
                           "series": [[r[k] for r in rows] for k in ("heard", "accepted", "answered", "to_problems")]}
    return out
