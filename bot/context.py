"""What handlers and jobs may use: the typed `Services`, and the per-message `Context`.

The message types themselves (Incoming, Attachment, Button, Reply) live in bot/messages.py and are
re-exported here for handlers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.config import Config
from bot.messages import Attachment, Button, Incoming, Reply
from models.accounts.roles import Right, Role
from models.base import utcnow
from models.calendar.workdays import WorkCalendar, load_calendar
from models.rectification.rules import RectificationRules

if TYPE_CHECKING:
    from bot.db import Database
    from bot.dialogue import Dialogues
    from bot.dingtalk_api import DingTalkAPI
    from bot.render import Renderer
    from bot.router import Router
    from models import Account, Unit

__all__ = ["Attachment", "Button", "Context", "Incoming", "Reply", "Services"]


def _no_dialogues() -> Dialogues:
    from bot.dialogue import Dialogues  # bot.dialogue builds on this module

    return Dialogues()


@dataclass
class Services:
    """What handlers and jobs may use, built once in bot/app.py."""

    db: Database
    renderer: Renderer
    router: Router
    config: Config = field(default_factory=Config)
    rules: RectificationRules = field(default_factory=RectificationRules)
    clock: Callable[[], datetime] = utcnow  # injectable, so tests can stand on any date
    dialogues: Dialogues = field(default_factory=lambda: _no_dialogues())  # the guided dialogues (bot/dialogue.py)
    api: DingTalkAPI | None = None  # file download and upload; set once the HTTP session is open
    _calendar: WorkCalendar | None = None
    _calendar_at: float = 0.0

    async def calendar(self) -> WorkCalendar:
        """The working-day calendar with the administrators' overrides, re-read every minute."""
        if self._calendar is None or time.monotonic() - self._calendar_at > 60:
            self._calendar = await load_calendar(self.db)
            self._calendar_at = time.monotonic()
        return self._calendar


@dataclass
class Context:
    services: Services
    account: Account | None
    roles: list[Role]
    rights: frozenset[Right]
    unit: Unit | None
    args: str = ""  # normalised text after the command word
    raw_args: str = ""  # the user's own text after the command word

    @property
    def db(self) -> Database:
        return self.services.db

    def can(self, right: Right) -> bool:
        return right in self.rights
