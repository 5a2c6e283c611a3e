"""走访记录 materials: photos and files the recorder sends in single chat within 30 minutes."""

from __future__ import annotations

from datetime import datetime

from bot.context import Context, Incoming, Reply
from bot.files import keep_attachments
from bot.router import ATTACHMENT_WINDOW, Handler
from handlers.visits.commands import status
from models.visits.ops import add_record_attachments
from models.visits.queries import latest_record_by


async def claim_attachment(msg: Incoming, ctx: Context) -> tuple[datetime, Handler] | None:
    """Claimed for the sender's newest 走访记录 of the last 30 minutes."""
    if ctx.account is None or ctx.account.id is None or msg.is_group:
        return None
    async with ctx.db.read() as session:
        record = await latest_record_by(session, account_id=ctx.account.id,
                                        since=ctx.services.clock() - ATTACHMENT_WINDOW)
    if record is None or record.id is None:
        return None
    record_id = record.id

    async def attach(msg: Incoming, ctx: Context) -> Reply:
        stored = await keep_attachments(ctx.services.api, ctx.services.config.storage_dir, msg.attachments,
                                        subdir=f"visits/ZF{record_id}",
                                        max_file_mb=ctx.services.config.storage.max_file_mb)
        if stored is None:
            return status("attachment_failed", "error")
        files = [(a.kind, a.file_name or f.file_name, f.path, f.size, f.sha256)
                 for a, f in zip(msg.attachments, stored, strict=True)]
        async with ctx.db.write() as session:
            count = await add_record_attachments(session, record_id=record_id, files=files)
        return status("attached", visit_id=record_id, count=count)

    return record.created_at, attach
