"""The composition root: builds the whole object graph from a Config and runs it.

With bot/cli.py, this is the only module of the runtime kit that imports handlers/ and jobs/:
it registers their commands, dialogues, import kinds, templates, HTTP routes and jobs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from typing import Any

import aiohttp
from aiohttp import web
from dingtalk_stream import Credential

import handlers
from bot.config import Config
from bot.context import Services
from bot.db import Database
from bot.dingtalk_api import DingTalkAPI
from bot.dispatch import Dispatcher
from bot.importing import import_file, register_kinds
from bot.metrics import CONTENT_TYPE, Metrics
from bot.notify import notify_users
from bot.outbox import Claimed, OutboxWorker
from bot.render import TEMPLATE_DIRS, Renderer
from bot.router import RateLimiter, Router
from bot.stream import StreamClient
from handlers.approvals.ingest_api import add_ingest_routes
from handlers.approvals.oa_events import register_oa_events
from handlers.dashboard.pages import add_dashboard_routes
from jobs import build_scheduler, catch_up
from models.accounts.roles import Role
from models.accounts.tables import accounts_with_role

__all__ = ["BotApp", "import_file", "run_forever"]

log = logging.getLogger(__name__)

# The capabilities' import kinds and template folders, registered once for every entry point.
register_kinds(handlers.import_kinds())
TEMPLATE_DIRS.extend(d for d in handlers.template_dirs() if d not in TEMPLATE_DIRS)


class BotApp:
    """One bot process: stream in, dispatcher, outbox worker, scheduler and the HTTP server."""

    def __init__(self, config: Config, db: Database | None = None, clock: Any = None) -> None:
        self.config = config
        self.db = db or Database(config.database.url)
        self.router = handlers.register_all(Router())
        self.services = Services(db=self.db, renderer=Renderer(), router=self.router, config=config,
                                 dialogues=handlers.register_flows(), rules=config.rectification.rules())
        if clock is not None:  # tests stand the whole bot on a chosen date
            self.services.clock = clock
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._tasks: list[asyncio.Task[Any]] = []
        self._runner: web.AppRunner | None = None
        self.http: aiohttp.ClientSession | None = None
        self.port = 0
        self._stopped = False

    async def start(self, *, serve_http: bool = True) -> None:
        cfg = self.config
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=cfg.dingtalk.http_timeout),
                                          trust_env=False)
        self.api = DingTalkAPI(cfg.dingtalk, self.http)
        self.services.api = self.api
        self.outbox = OutboxWorker(self.db, self.api, cfg.outbox, owner=self.instance,
                                   clock=lambda: self.services.clock())
        self.outbox.on_dead = self._alert_admins
        limiter = RateLimiter(cfg.bot.rate_limit_count, cfg.bot.rate_limit_seconds)
        self.dispatcher = Dispatcher(self.services, self.api, limiter, nudge=self.outbox.nudge)
        self.stream = StreamClient(
            Credential(cfg.dingtalk.client_id, cfg.dingtalk.client_secret), api_endpoint=cfg.dingtalk.api_endpoint,
            http=self.http, http_timeout=cfg.dingtalk.http_timeout, watchdog_seconds=cfg.dingtalk.watchdog_seconds,
        )
        self.stream.register_bot_handler(self.dispatcher.on_message)
        register_oa_events(self.stream, self.services, self.api, nudge=self.outbox.nudge)
        self.scheduler = build_scheduler(self)
        self.metrics = Metrics(self)
        self.dispatcher.metrics = self.metrics
        self.metrics.instrument_scheduler(self.scheduler)
        self.scheduler.start()
        self.caught_up = asyncio.create_task(catch_up(self.services), name="catch-up")
        self._tasks = [asyncio.create_task(self.stream.run(), name="stream"),
                       asyncio.create_task(self.outbox.run(), name="outbox"), self.caught_up]
        if serve_http:
            await self._serve_http()

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.outbox.stop()
        await self.stream.stop()
        await self.stream.drain()
        await self.dispatcher.audit.close()  # in-flight messages are answered: record what they were
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner:
            await self._runner.cleanup()
        if self.http:
            await self.http.close()
        await self.db.dispose()

    async def _serve_http(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        add_ingest_routes(app, self.services, nudge=self.outbox.nudge)
        add_dashboard_routes(app, self.services, self.api.user_by_auth_code)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.server.host, self.config.server.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("HTTP server on %s:%s", self.config.server.host, self.port)

    async def _healthz(self, _request: web.Request) -> web.Response:
        db_ok = await self.db.ping()
        stream_ok = self.stream.connected.is_set()
        status = 200 if db_ok and stream_ok else 503
        return web.json_response({"database": db_ok, "stream": stream_ok}, status=status)

    async def _readyz(self, _request: web.Request) -> web.Response:
        """Ready to serve: database reachable, Stream connected, outbox worker and scheduler running."""
        checks = {"database": await self.db.ping(), "stream": self.stream.connected.is_set(),
                  "outbox": any(t.get_name() == "outbox" and not t.done() for t in self._tasks),
                  "scheduler": bool(self.scheduler.running)}
        return web.json_response(checks, status=200 if all(checks.values()) else 503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=await self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def _alert_admins(self, row: Claimed, error: str) -> None:
        """An outbox message could not be delivered: tell the administrators (once per row)."""
        async with self.db.write() as session:
            admins = [a.user_id for a in await accounts_with_role(session, Role.ADMIN)]
            await notify_users(
                session, self.services.renderer, kind="alert.outbox", key=str(row.id), user_ids=admins,
                template="message.md.j2",
                data={"text": f"有一条消息（{row.kind}，发给 {row.recipient}）未能送达：{error[:100]}"},
            )
        self.outbox.nudge()


async def run_forever(config: Config) -> None:
    """`python -m bot run`: start, then stop cleanly on SIGINT/SIGTERM."""
    import signal

    app = BotApp(config)
    await app.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("bot running; Ctrl-C to stop")
    await stop.wait()
    await app.stop()
