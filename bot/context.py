"""What a handler receives (the message and its context) and what it returns (a Reply)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from models.accounts.roles import Right, Role
from models.base import utcnow
from models.calendar.workdays import WorkCalendar, load_calendar
from models.rectification.rules import RectificationRules

if TYPE_CHECKING:
    from bot.db import Database
    from bot.render import Renderer
    from bot.router import Router
    from models import Account, Unit


@dataclass(frozen=True)
class Attachment:
    kind: str  # picture / file / audio / video
    download_code: str
    file_name: str = ""


@dataclass(frozen=True)
class Incoming:
    """One message from DingTalk, normalised for the router."""

    msg_id: str
    user_id: str  # senderStaffId, the enterprise userId
    nick: str
    text: str  # the text as typed (the router normalises it)
    conversation_type: str  # "1" single chat, "2" group
    conversation_id: str
    session_webhook: str
    msgtype: str = "text"
    attachments: tuple[Attachment, ...] = ()

    @property
    def is_group(self) -> bool:
        return self.conversation_type == "2"


@dataclass(frozen=True)
class Button:
    title: str  # at most 20 characters (DingTalk)
    command: str  # the text the user's client sends when tapped


@dataclass
class Reply:
    """A handler's answer: a template and its data; the runtime renders and sends it."""

    template: str
    data: dict[str, Any] = field(default_factory=dict)
    buttons: list[Button] = field(default_factory=list)
    outcome: str = "ok"  # audit outcome: ok / denied / invalid / not_found


@dataclass
class Services:
    """What handlers and jobs may use, built once in bot/app.py."""

    db: Database
    renderer: Renderer
    router: Router
    config: Any  # bot.config.Config
    rules: RectificationRules = field(default_factory=RectificationRules)
    clock: Callable[[], datetime] = utcnow  # injectable, so tests can stand on any date
    dialogues: Any = None  # bot.dialogue.Dialogues
    api: Any = None  # bot.dingtalk_api.DingTalkAPI (file download and upload)
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
