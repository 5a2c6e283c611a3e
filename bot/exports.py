"""The one path every export takes: upload the file to DingTalk, then send it through the outbox."""

from __future__ import annotations

import logging

from bot.context import Context, Incoming, Reply
from bot.dingtalk_api import DingTalkError
from models.outbox import enqueue, user_recipient

log = logging.getLogger(__name__)


async def send_export(msg: Incoming, ctx: Context, data: bytes, name: str, what: str) -> Reply:
    """Upload `data` as `name` and queue it for the sender's single chat; `what` names it in the reply."""
    try:
        media_id = await ctx.services.api.upload_media(data, name, "file")
    except DingTalkError as e:
        log.warning("upload of %s failed: %s", name, e)
        return Reply("export_sent.md.j2", {"failed": True}, outcome="error")
    async with ctx.db.write() as session:
        await enqueue(session, dedup_key=f"export:{msg.msg_id}:{msg.user_id}", kind="export.file",
                      recipient=user_recipient(msg.user_id), msg_key="sampleFile",
                      param={"mediaId": media_id, "fileName": name, "fileType": "xlsx"})
    return Reply("export_sent.md.j2", {"failed": False, "what": what, "group": msg.is_group})
