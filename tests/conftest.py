"""Fixtures: a fresh database (SQLite always, PostgreSQL when BOT_TEST_POSTGRES_URL is set), the
DingTalk emulator, and a running bot connected to it through the real SDK."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bot.app import BotApp
from bot.config import BotConfig, Config, OutboxConfig
from bot.db import Database
from bot.demo import demo_config, load_demo_data
from bot.emulator import Emulator, Sent

PG_URL = os.environ.get("BOT_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


async def _reset_postgres(url: str) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        if not PG_URL:
            pytest.skip("PostgreSQL tests need BOT_TEST_POSTGRES_URL (set by .ci/run)")
        await _reset_postgres(PG_URL)
        return PG_URL
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


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
        outbox=OutboxConfig(poll_seconds=0.2, lease_seconds=5, retry_base_seconds=0.1),
    )
    for section, values in overrides.items():
        cfg = dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section), **values)})
    return cfg


@pytest.fixture
async def make_bot(emulator: Emulator, demo_db: Database, db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Start a bot on the demo data: `await make_bot(bot={"rate_limit_count": 5})`."""
    started: list[BotApp] = []

    async def _make(**overrides: object) -> BotApp:
        app = BotApp(bot_config(emulator, db_url, tmp_path, **overrides), Database(db_url))
        await app.start()
        started.append(app)
        await emulator.wait_connected(len(started))
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
