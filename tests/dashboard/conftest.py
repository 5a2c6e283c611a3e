"""A bot on the demo county with the 监督看板 samples, and an HTTP client that signs in through the
emulator's 免登 (authCode from the 'client', exchanged by the bot with the user-info API)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.app import BotApp
from bot.demo import load_demo_extras
from bot.demo.samples import load_board_samples
from bot.emulator import Emulator
from bot.emulator.chat import attach_chat
from jobs.warnings import scan_warnings
from tests.conftest import FakeClock, beijing

NOW = beijing("2026-11-24 10:00")  # a Tuesday


async def auth_code(emulator: Emulator, user: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(
            f"{emulator.base_url}/h5/authCode", params={"userId": user, "corpId": emulator.corp_id}) as r:
        return str((await r.json())["code"])


class Browserless:
    """The page's own requests, made by hand: sign in, get pages, post forms."""

    def __init__(self, app: BotApp, emulator: Emulator, http: aiohttp.ClientSession) -> None:
        self.base = f"http://127.0.0.1:{app.port}"
        self.emulator = emulator
        self.http = http

    async def sign_in(self, user: str) -> int:
        self.http.cookie_jar.clear()
        code = await auth_code(self.emulator, user)
        async with self.http.post(f"{self.base}/dashboard/login", json={"code": code}) as r:
            return r.status

    async def get(self, path: str = "/dashboard") -> tuple[int, str]:
        async with self.http.get(self.base + path) as r:
            return r.status, await r.text()

    async def post(self, path: str, **kw: Any) -> aiohttp.ClientResponse:
        async with self.http.post(self.base + path, allow_redirects=False, **kw) as r:
            await r.read()
            return r


PERSONAS = [{"user_id": u, "name": n, "label": label} for u, n, label in (
    ("bb_ld1", "赵强", "编办领导 赵强"), ("jyj_ll", "王芳", "教育局单位联络员 王芳"), ("jdy1", "陈静", "监督员 陈静"))]


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """The tests' emulator, with the demo's chat page (and its 看板 button) on it."""
    emu = Emulator(client_id="test-app", client_secret="test-secret-value", ping_interval=0.5)
    attach_chat(emu, PERSONAS)
    await emu.start()
    yield emu
    await emu.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def board_bot(make_bot, demo_db, emulator: Emulator) -> BotApp:  # type: ignore[no-untyped-def]
    """The demo county with visit groups, 实名制 persons (so warnings), and the board samples; the bot's
    HTTP server on a known port, so that the 看板 link it sends can be opened."""
    await load_demo_extras(demo_db)
    await load_board_samples(demo_db, NOW)
    port = free_port()
    app: BotApp = await make_bot(clock=FakeClock(NOW), server={"port": port},
                                 dashboard={"base_url": f"http://127.0.0.1:{port}"})
    emulator.dashboard_url = f"http://127.0.0.1:{app.port}/dashboard"
    await scan_warnings(app.services, NOW)
    return app


@pytest.fixture
async def web(board_bot: BotApp, emulator: Emulator) -> AsyncIterator[Browserless]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield Browserless(board_bot, emulator, http)
