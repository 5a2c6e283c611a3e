"""Fixtures: a fresh database (SQLite always, PostgreSQL when BOT_TEST_POSTGRES_URL is set), the
DingTalk emulator, and a running bot connected to it through the real SDK."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from bot.app import BotApp
from bot.config import BotConfig, Config, OutboxConfig
from bot.db import Database
from bot.demo import demo_config, load_demo_data
from bot.emulator import Emulator, Sent
from tests.fakes import FastBot, at, demo_database

PG_URL = os.environ.get("BOT_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


async def _reset_postgres(url: str) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


async def _own_database(url: str) -> str:
    """A database of this test process's own beside BOT_TEST_POSTGRES_URL's, so that test runs
    (and the developers' parallel runs) never reset each other's schema."""
    base, _, _name = url.rpartition("/")
    name = f"bianban_test_{os.getpid()}"
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{base}/{name}"


_PG_OWN: list[str] = []


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        if not PG_URL:
            pytest.skip("PostgreSQL tests need BOT_TEST_POSTGRES_URL (set by .ci/run)")
        if not _PG_OWN:
            _PG_OWN.append(await _own_database(PG_URL))
        await _reset_postgres(_PG_OWN[0])
        return _PG_OWN[0]
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop this process's own PostgreSQL database."""
    if not _PG_OWN:
        return
    import asyncio

    async def _drop() -> None:
        conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{_PG_OWN[0].rpartition("/")[2]}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(_drop())


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """An empty database at the newest migration."""
    from bot.migrate import upgrade

    database = Database(db_url)
    await upgrade(database)
    yield database
    await database.dispose()


@pytest.fixture
async def demo_db(db_url: str) -> AsyncIterator[Database]:
    """The 示例县 demo data (31 units, an account for every role)."""
    database = Database(db_url)
    await load_demo_data(database)
    yield database
    await database.dispose()


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    emu = Emulator(client_id="test-app", client_secret="test-secret-value", ping_interval=0.5)
    await emu.start()
    yield emu
    await emu.stop()


def bot_config(emu: Emulator, db_url: str, tmp_path: Path, **overrides: object) -> Config:
    cfg = demo_config(tmp_path, emu.base_url, 0)
    cfg = dataclasses.replace(
        cfg,
        dingtalk=dataclasses.replace(cfg.dingtalk, client_id=emu.client_id, client_secret=emu.client_secret,
                                     watchdog_seconds=5.0, http_timeout=3.0),
        bot=BotConfig(rate_limit_count=1000, rate_limit_seconds=60),
        outbox=OutboxConfig(poll_seconds=0.2, lease_seconds=8, retry_base_seconds=0.1),
    )
    for section, values in overrides.items():
        cfg = dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section), **values)})
    return cfg


@pytest.fixture
async def make_bot(emulator: Emulator, demo_db: Database, db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Start a bot on the demo data: `await make_bot(bot={"rate_limit_count": 5})`."""
    started: list[BotApp] = []

    async def _make(clock: object = None, **overrides: object) -> BotApp:
        app = BotApp(bot_config(emulator, db_url, tmp_path, **overrides), Database(db_url), clock=clock)
        await app.start()
        started.append(app)
        await asyncio.wait_for(app.stream.connected.wait(), 10)
        await asyncio.wait_for(app.caught_up, 30)  # the start-up catch-up scans are done: tests are deterministic
        await emulator.wait_connected()
        return app

    yield _make
    for app in started:
        await app.stop()


@pytest.fixture
async def bot(make_bot) -> BotApp:  # type: ignore[no-untyped-def]
    return await make_bot()


class Chat:
    """Talk to the bot as a DingTalk user would, through the emulator."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    async def say(self, user: str, text: str, *, group: str = "", nick: str = "") -> Sent:
        msg_id = await self.emu.send_text(user, text, group=group, nick=nick)
        return await self.emu.wait_reply(msg_id)


@pytest.fixture
def chat(emulator: Emulator, bot: BotApp) -> Chat:
    return Chat(emulator)


class FakeClock:
    """Stands the bot on a chosen moment (aware), then lets real time flow from there."""

    def __init__(self, start: datetime) -> None:
        self.set(start)

    def set(self, moment: datetime) -> None:
        self._start, self._t0 = moment, time.monotonic()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)


def beijing(text: str) -> datetime:
    """`2026-11-23 10:00` in Beijing time, as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
async def fast(tmp_path: Path) -> AsyncIterator[FastBot]:
    """The fast tier: the demo county, the real router and handlers, no emulator (see tests/fakes.py)."""
    db = await demo_database(tmp_path)
    yield FastBot(db, clock=at("2026-11-23 10:00"))
    await db.dispose()
