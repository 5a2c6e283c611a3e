"""A bot on the demo county with the 监督看板 samples, and an HTTP client that signs in through the
emulator's 免登 (authCode from the 'client', exchanged by the bot with the user-info API)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.app import BotApp
from bot.demo import load_demo_extras
from bot.demo.samples import load_board_samples
from bot.emulator import Emulator
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


@pytest.fixture
async def board_bot(make_bot, demo_db) -> BotApp:  # type: ignore[no-untyped-def]
    """The demo county with visit groups, 实名制 persons (so warnings), and the board samples."""
    await load_demo_extras(demo_db)
    await load_board_samples(demo_db, NOW)
    app: BotApp = await make_bot(clock=FakeClock(NOW))
    await scan_warnings(app.services, NOW)
    return app


@pytest.fixture
async def web(board_bot: BotApp, emulator: Emulator) -> AsyncIterator[Browserless]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield Browserless(board_bot, emulator, http)
