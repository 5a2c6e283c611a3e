"""The fast tier: a message goes through the real router, dispatcher and handler and is rendered,
with no emulator, no Stream connection and no network. A test starts from a copy of a demo database
built once per test session, so each test costs milliseconds.

    async def test_whoami(fast):
        reply = await fast.say("jyj_ll", "我是谁")
        assert "教育局" in reply.text
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import handlers
from bot.app import import_file  # noqa: F401  (the composition root registers kinds and templates)
from bot.config import Config
from bot.context import Incoming, Reply, Services
from bot.db import Database
from bot.demo import load_demo_data
from bot.dispatch import Dispatcher
from bot.render import Renderer
from bot.router import RateLimiter, Router

_ids = itertools.count(1)


@dataclass
class Answer:
    reply: Reply
    text: str  # the rendered markdown the user would see
    command: str
    outcome: str


class FastBot:
    """Say something as a user; get the reply the bot would send (nothing is sent)."""

    def __init__(self, db: Database, clock: Any = None) -> None:
        self.services = Services(db=db, renderer=Renderer(), router=handlers.register_all(Router()), config=Config(),
                                 dialogues=handlers.register_flows())
        if clock is not None:
            self.services.clock = clock
        self.dispatcher = Dispatcher(self.services, api=None, limiter=RateLimiter(10_000, 60))  # type: ignore[arg-type]

    async def say(self, user: str, text: str, *, group: bool = False) -> Answer:
        n = next(_ids)
        msg = Incoming(msg_id=f"fast-{n}", user_id=user, nick=user, text=text,
                       conversation_type="2" if group else "1", conversation_id=f"conv-{'g' if group else user}",
                       session_webhook="")
        reply, command, outcome, _ = await self.dispatcher.handle(msg)
        assert reply is not None
        return Answer(reply, self.services.renderer.render(reply.template, reply.data), command, outcome)


_TEMPLATE: dict[str, Path] = {}


async def demo_database(tmp_path: Path) -> Database:
    """A private copy of the migrated demo database (built once per test session)."""
    if "path" not in _TEMPLATE:
        base = Path(tmp_path).parent / "fast-template"
        base.mkdir(exist_ok=True)
        template = base / "demo.db"
        db = Database(f"sqlite+aiosqlite:///{template}")
        await load_demo_data(db)
        await db.dispose()
        _TEMPLATE["path"] = template
    target = tmp_path / "fast.db"
    await asyncio.to_thread(shutil.copyfile, _TEMPLATE["path"], target)
    return Database(f"sqlite+aiosqlite:///{target}")


def at(text: str) -> Any:
    """A fixed clock at `2026-11-23 10:00` Beijing time."""
    from zoneinfo import ZoneInfo

    moment = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    return lambda: moment
