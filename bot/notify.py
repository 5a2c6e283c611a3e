"""Pushes: render a template once and enqueue it in the outbox for each recipient.

Handlers and jobs call `notify_users` inside the transaction that makes the change, so the
push exists if and only if the change does. The dedup key is `kind:key:recipient`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.context import Button
from bot.render import Renderer, robot_message
from models.outbox import enqueue, outbox_values, user_recipient


def notification_rows(
    renderer: Renderer, *, kind: str, key: str, user_ids: list[str], template: str, data: dict[str, Any],
    buttons: list[Button] | None = None, due_at: datetime | None = None, expires_at: datetime | None = None,
    mergeable: bool = False,
) -> list[dict[str, Any]]:
    """Outbox rows for one message to several users, for `enqueue_many` (bulk jobs)."""
    text = renderer.render(template, data)
    msg_key, param = robot_message(text, buttons)
    return [outbox_values(dedup_key=f"{kind}:{key}:{user}", kind=kind, recipient=user_recipient(user),
                          msg_key=msg_key, param=param, due_at=due_at, expires_at=expires_at, mergeable=mergeable)
            for user in dict.fromkeys(user_ids)]


async def notify_users(
    session: AsyncSession, renderer: Renderer, *, kind: str, key: str, user_ids: list[str], template: str,
    data: dict[str, Any], buttons: list[Button] | None = None, due_at: datetime | None = None,
    expires_at: datetime | None = None, mergeable: bool = False,
) -> int:
    """Enqueue one message per user; returns how many rows were new."""
    text = renderer.render(template, data)
    msg_key, param = robot_message(text, buttons)
    added = 0
    for user_id in dict.fromkeys(user_ids):
        added += await enqueue(
            session, dedup_key=f"{kind}:{key}:{user_id}", kind=kind, recipient=user_recipient(user_id),
            msg_key=msg_key, param=param, due_at=due_at, expires_at=expires_at, mergeable=mergeable,
        )
    return added


def bound(renderer: Renderer) -> Callable[..., Awaitable[int]]:
    """`notify_users` with `renderer` bound: what a model's announcement takes as its `notify`."""

    async def notify(session: AsyncSession, **kw: Any) -> int:
        return await notify_users(session, renderer, **kw)

    return notify
