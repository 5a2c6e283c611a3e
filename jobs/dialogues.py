"""Guided dialogues silent for their timeout (30 minutes by default) are closed, with a note to the user."""

from __future__ import annotations

from typing import Any

from sqlmodel import delete, select

from bot.context import Services
from models.dialogue import Dialogue
from models.outbox import enqueue, user_recipient


async def expire_dialogues(services: Services) -> int:
    now = services.clock()
    async with services.db.write() as session:
        rows = (await session.exec(select(Dialogue).where(Dialogue.expires_at < now))).all()
        for row in rows:
            flow = services.dialogues.flows.get(row.flow) if services.dialogues else None
            title = flow.title if flow else "对话"
            await enqueue(session, dedup_key=f"dialogue.expired:{row.id}:{row.updated_at.isoformat()}",
                          kind="dialogue.expired", recipient=user_recipient(row.user_id), msg_key="sampleText",
                          param={"content": f"“{title}”已超过 {flow.timeout_minutes if flow else 30} 分钟没有回复，"
                                            "已自动结束，填写的内容没有保存。需要时请重新开始。"})
        if rows:
            await session.exec(delete(Dialogue).where(Dialogue.id.in_([r.id for r in rows])))  # type: ignore[union-attr,call-overload]
    return len(rows)


def register(scheduler: Any, app: Any) -> None:
    scheduler.add_job(expire_dialogues, "interval", minutes=1, args=[app.services], id="dialogues",
                      replace_existing=True)
