"""The message hot path (issue 14): one write transaction and two statements of the dispatcher's own
per message, the audit completed off the reply path, the outbox left asleep when nothing was queued,
and dedup that survives a restart."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from sqlmodel import col, select

from models import InboundMessage


class Statements:
    """Every SQL statement the bot's engine runs while active (BEGIN included)."""

    def __init__(self, app: Any) -> None:
        self.engine = app.db.engine.sync_engine
        self.seen: list[str] = []
        self.on = False
        event.listen(self.engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if self.on:
            self.seen.append(" ".join(statement.split())[:80])

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


async def test_a_query_message_costs_one_write_and_two_statements_of_the_dispatcher(bot, emulator):
    await emulator.wait_connected()
    counter = Statements(bot)
    try:
        await bot.dispatcher.audit.flush()
        counter.on = True
        msg_id = await emulator.send_text("jyj_ll", "我是谁")  # the handler itself runs no query
        reply = await emulator.wait_reply(msg_id)
        counter.on = False
    finally:
        counter.close()
    assert "王芳" in reply.text
    statements = [s for s in counter.seen if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK"))]
    writes = [s for s in counter.seen if s.startswith("BEGIN IMMEDIATE")] if bot.db.is_sqlite else \
        [s for s in statements if s.startswith(("INSERT", "UPDATE", "DELETE"))]
    assert len(writes) == 1, counter.seen  # the dedup insert, which is the audit row
    assert len(statements) == 2, statements  # the insert and the one identity query
    assert not any("outboxmessage" in s.lower() for s in counter.seen)  # the outbox was not woken


async def test_the_audit_is_completed_in_batches_and_records_every_message(bot, emulator):
    await emulator.wait_connected()
    ids = [await emulator.send_text(f"user{i}", "帮助") for i in range(20)]
    for msg_id in ids:
        await emulator.wait_reply(msg_id)
    await bot.dispatcher.audit.flush()
    async with bot.db.read() as s:
        rows = (await s.exec(select(InboundMessage).where(col(InboundMessage.msg_id).in_(ids)))).all()
    assert len(rows) == 20 and all(r.command == "帮助" and r.outcome == "ok" for r in rows)
    assert bot.dispatcher.audit.batches < 20  # several completions per write transaction


async def test_a_redelivery_after_a_restart_is_still_processed_once(make_bot, emulator):
    first = await make_bot()
    data = emulator.message("jyj_ll", "我是谁")
    await emulator.deliver(data)
    await emulator.wait_reply(data["msgId"])
    await first.stop()
    await make_bot()  # a new process, the same database
    await emulator.deliver(data)  # DingTalk redelivers the unacknowledged message after the crash
    await asyncio.sleep(1.0)
    assert len(emulator.replies_to(data["msgId"])) == 1
