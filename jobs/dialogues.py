"""Guided dialogues silent for their timeout (30 minutes by default) are closed, with a note to the user."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import col, delete, select

from bot.context import Services
from bot.dialogue import written
from models.dialogue import Dialogue
from models.outbox import enqueue, user_recipient


async def expire_dialogues(services: Services) -> int:
    now = services.clock()
    async with services.db.write() as session:
        rows = (await session.exec(select(Dialogue).where(Dialogue.expires_at < now))).all()
        for row in rows:
            flow = services.dialogues.flows.get(row.flow) if services.dialogues else None
            title = flow.title if flow else "对话"
            kept = written(flow, json.loads(row.data)) if flow else ""
            text = (f"“{title}”已超过 {flow.timeout_minutes if flow else 30} 分钟没有回复，已自动结束，没有提交。"
                    + (f"您当时写下的内容如下，需要时可复制后重新开始：\n\n{kept}" if kept else "需要时请重新开始。"))
            await enqueue(session, dedup_key=f"dialogue.expired:{row.id}:{row.updated_at.isoformat()}",
                          kind="dialogue.expired", recipient=user_recipient(row.user_id), msg_key="sampleText",
                          param={"content": text})
        if rows:
            await session.exec(delete(Dialogue).where(col(Dialogue.id).in_([r.id for r in rows])))
    return len(rows)


def register(scheduler: Any, app: Any) -> None:
    scheduler.add_job(expire_dialogues, "interval", minutes=1, args=[app.services], id="dialogues",
                      replace_existing=True)
