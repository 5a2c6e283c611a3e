"""The router: an ordered, inspectable table of Chinese commands.

Text is normalised (full-width → half-width, @-mentions, extra spaces and trailing punctuation
removed) and matched against command names and aliases, longest first, so `申请绑定教育局` and
`申请绑定 教育局` both work; a colon or comma right after the command word is a separator
(`进度：SP-2026-0014`). Common variants of a command word (`台帐`) are its aliases. A lone
@-mention reads as 帮助. First match wins; unmatched text gets the closest commands.
"""

from __future__ import annotations

import difflib
import re
import time
import unicodedata
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.messages import Incoming, Reply
from models.accounts.roles import Right

# A handler takes the message and its bot.context.Context (typed there: the router only stores it).
Handler = Callable[[Incoming, Any], Awaitable[Reply]]
# Photos and files sent without a command join the sender's newest record that takes them, made
# within ATTACHMENT_WINDOW: each capability claims them with the time of its record and the handler
# that files them there (None when it has no such record); the newest claim wins.
AttachmentClaim = Callable[[Incoming, Any], Awaitable[tuple[datetime, Handler] | None]]
ATTACHMENT_MINUTES = 30
ATTACHMENT_WINDOW = timedelta(minutes=ATTACHMENT_MINUTES)

_MENTION = re.compile(r"^(?:@\S+\s*)+")
_SPACES = re.compile(r"\s+")
_LINE_SPACES = re.compile(r"[^\S\n]+")  # full-width and other spaces within a line
_TRAILING = ".。!！?？~～"
_SEPARATORS = ":：,，"  # `进度：SP-…` and `台账，红灯` read as `进度 SP-…`, `台账 红灯`


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    right: Right
    summary: str  # one line for 帮助
    usage: str = ""  # e.g. "申请绑定 <单位>"; defaults to the name
    aliases: tuple[str, ...] = ()
    topic: str = "通用"  # section of 帮助

    @property
    def words(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Match:
    command: Command
    args: str  # normalised text after the command word
    raw_args: str  # the user's own text after the command word (for free text)


def strip_mentions(text: str) -> str:
    return _MENTION.sub("", text.strip()).strip()


def normalize(text: str) -> str:
    """Full-width → half-width, lower case, single spaces, no @-prefix or trailing punctuation."""
    text = unicodedata.normalize("NFKC", strip_mentions(text))
    text = _SPACES.sub(" ", text).strip().lower()
    return text.rstrip(_TRAILING).strip()


class Router:
    def __init__(self) -> None:
        self._commands: list[Command] = []
        self._words: list[tuple[str, Command]] = []
        self.attachment_claims: list[AttachmentClaim] = []  # photos and files without a command
        self.attachment_handler: Handler | None = None  # the answer when no capability claims them
        self.fallbacks: list[Callable[..., Awaitable[Reply | None]]] = []  # tried before "没有听懂"
        self.mention_only = "帮助"  # what a bare @-mention of the bot means

    def add(self, command: Command) -> None:
        for word in command.words:
            if any(w == word for w, _ in self._words):
                raise ValueError(f"command word {word!r} registered twice")
        self._commands.append(command)
        self._words = sorted(
            [(w, c) for c in self._commands for w in c.words], key=lambda wc: len(wc[0]), reverse=True
        )

    @property
    def commands(self) -> list[Command]:
        return list(self._commands)

    def match(self, text: str) -> Match | None:
        norm = normalize(text)
        raw = strip_mentions(text)
        if not norm and text.strip().startswith("@"):
            norm = raw = self.mention_only
        for word, command in self._words:
            if norm == word or norm.startswith(word):
                rest = norm[len(word):]
                # a Latin/digit command word must end at a word boundary; Chinese words need not
                if rest and word[-1].isascii() and rest[0].isalnum():
                    continue
                rest = _after_separator(rest)
                own = _LINE_SPACES.sub(" ", _after_separator(_raw_rest(raw, word)))
                return Match(command, rest, own or rest)
        return None

    def suggest(self, text: str, rights: frozenset[Right], n: int = 3) -> list[Command]:
        """The commands the sender may use that look closest to `text`."""
        allowed = [c for c in self._commands if c.right in rights]
        head = normalize(text)[:6]
        by_word = {w: c for c in allowed for w in c.words}
        close = difflib.get_close_matches(head, list(by_word), n=n * 2, cutoff=0.3)
        # also count commands sharing characters with the text (Chinese users abbreviate)
        shared = sorted(by_word, key=lambda w: -len(set(w) & set(head)))
        out: list[Command] = []
        for word in [*close, *[w for w in shared if set(w) & set(head)]]:
            if by_word[word] not in out:
                out.append(by_word[word])
        return out[:n]

    def allowed(self, rights: frozenset[Right]) -> list[Command]:
        return [c for c in self._commands if c.right in rights]

    def related(self, command: Command, rights: frozenset[Right], n: int = 3) -> list[Command]:
        """Commands of the same topic that the sender may use (for a refusal), closest first."""
        same = [c for c in self.allowed(rights) if c.topic == command.topic and c is not command]
        return sorted(same, key=lambda c: -len(set(c.name) & set(command.name)))[:n]


def _after_separator(rest: str) -> str:
    """The arguments without a leading `：:，,` (and the spaces around it)."""
    return rest.strip().lstrip(_SEPARATORS).strip()


def _raw_rest(raw: str, word: str) -> str:
    """The user's own text after the command word, when the word is a clean prefix of it."""
    head = unicodedata.normalize("NFKC", raw[: len(word)]).lower()
    return raw[len(word):].strip() if head == word else ""


class RateLimiter:
    """At most `count` messages per `seconds` per user: a flood guard set well above what anyone types
    (a guided dialogue answered at speed stays far below it). A refusal says so, naming the refused
    message, at most once per `notice_seconds`; the refusals in between are silent (the notice says so)."""

    def __init__(self, count: int, seconds: float, clock: Callable[[], float] = time.monotonic,
                 notice_seconds: float = 10.0) -> None:
        self.count, self.seconds, self._clock = count, seconds, clock
        self.notice_seconds = min(notice_seconds, seconds)
        self._seen: dict[str, deque[float]] = {}
        self._warned: dict[str, float] = {}

    def check(self, user: str) -> str:
        """'ok', 'notify' (refuse and say so once) or 'drop' (refuse silently)."""
        now = self._clock()
        seen = self._seen.setdefault(user, deque())
        while seen and seen[0] <= now - self.seconds:
            seen.popleft()
        if len(seen) < self.count:
            seen.append(now)
            self._warned.pop(user, None)
            return "ok"
        if self._warned.get(user, -1e18) > now - self.notice_seconds:
            return "drop"
        self._warned[user] = now
        return "notify"


@dataclass
class HelpSection:
    topic: str
    commands: list[Command] = field(default_factory=list)


def help_sections(commands: list[Command]) -> list[HelpSection]:
    sections: dict[str, HelpSection] = {}
    for c in commands:
        sections.setdefault(c.topic, HelpSection(c.topic)).commands.append(c)
    return list(sections.values())


def as_dict(command: Command) -> dict[str, Any]:
    return {"name": command.name, "usage": command.usage or command.name, "summary": command.summary}
