"""Where problems come from: the registry other capabilities plug into, and `转整改`.

A capability that can turn its records into 整改 problems (预警, 监督员反馈, 走访…) registers a
`ProblemSource`: the number prefix its records carry, how to load one as a `Draft`, and what to
do when the problem made from it is 销号. Rectification never imports those capabilities; the
composition root (handlers/__init__.py) hands each of them the one `ProblemSources` registry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.context import Context, Incoming, Reply
from bot.dialogue import Invalid
from bot.router import Command, Router
from handlers.rectification.common import usage
from handlers.rectification.ledger import assign_problem, parse_when
from models import Problem
from models.accounts.roles import Right


@dataclass
class Draft:
    """A record ready to become a problem: its content, and how to link the record to the problem."""

    unit_id: int
    source: str  # one of models.rectification.tables.SOURCES
    description: str
    requirement: str
    origin: str  # "<source key>:<record number>", kept on the problem
    link: Callable[[Any, Problem], Awaitable[None]] | None = None  # runs in the creating transaction
    default_deadline: str = "20个工作日"


@dataclass(frozen=True)
class ProblemSource:
    key: str  # the origin prefix kept on problems, e.g. "feedback"
    prefix: str  # what its numbers start with, e.g. "FK"
    label: str  # e.g. "反馈号"
    example: str  # e.g. "转整改 FK-2026-0001 20个工作日"
    load: Callable[[Incoming, Context, str], Awaitable[Draft | Reply]]  # a Reply: not found, already done…
    on_closed: Callable[[Any, Context, str, str], Awaitable[None]] | None = None  # (session, ctx, origin, number)


class ProblemSources:
    def __init__(self) -> None:
        self._sources: list[ProblemSource] = []

    def add(self, source: ProblemSource) -> None:
        if any(s.prefix == source.prefix or s.key == source.key for s in self._sources):
            raise ValueError(f"problem source {source.key}/{source.prefix} registered twice")
        self._sources.append(source)
        self._sources.sort(key=lambda s: len(s.prefix), reverse=True)

    def for_number(self, token: str) -> ProblemSource | None:
        upper = token.strip().upper()
        return next((s for s in self._sources if upper.startswith(s.prefix)), None)

    def for_origin(self, origin: str) -> ProblemSource | None:
        key = origin.split(":", 1)[0]
        return next((s for s in self._sources if s.key == key), None) if ":" in origin else None

    @property
    def labels(self) -> str:
        return "|".join(s.label for s in reversed(self._sources))

    async def closed(self, session: Any, ctx: Context, problem: Problem) -> None:
        """A problem was 销号: its source (if any) hears of it."""
        source = self.for_origin(problem.origin)
        if source is not None and source.on_closed is not None:
            await source.on_closed(session, ctx, problem.origin, problem.number)


def turn_into_problem(sources: ProblemSources) -> Callable[[Incoming, Context], Awaitable[Reply]]:
    """`转整改 <号> [期限]`: the record behind the number becomes a linked problem in the ledger."""

    async def handle(msg: Incoming, ctx: Context) -> Reply:
        token, _, when = ctx.raw_args.strip().partition(" ")
        source = sources.for_number(token) if token else None
        if source is None:
            return usage(f"请写上要转整改的编号（{sources.labels}）。", f"转整改 {sources.labels} [期限]",
                         "转整改 YJ-2026-0003 20个工作日")
        draft = await source.load(msg, ctx, token)
        if isinstance(draft, Reply):
            return draft
        try:
            deadline = await parse_when(when.strip() or draft.default_deadline, msg, ctx, {})
        except Invalid as e:
            return usage(str(e), f"转整改 {source.label} [期限]", source.example)
        data = {"unit": draft.unit_id, "source": draft.source, "deadline": deadline,
                "description": draft.description, "requirement": draft.requirement}
        return await assign_problem(msg, ctx, data, origin=draft.origin, on_created=draft.link)

    return handle


def register(router: Router, sources: ProblemSources) -> None:
    router.add(Command("转整改", turn_into_problem(sources), Right.OFFICE_HANDLE,
                       "把预警、监督员反馈或走访发现转为整改问题",
                       "转整改 预警号|反馈号|走访记录号 [期限]", topic="预警"))
