"""The message pipeline: dedup → identify → rate limit → route → authorize → handle → reply → audit.

The hot path is kept to one write transaction (the dedup insert, which is also the audit row) and
one identity query (account, unit, open dialogue); the audit completion is written in batches off
the reply path (bot/audit_buffer.py), and the outbox is woken only when a handler queued something.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from dingtalk_stream import ChatbotMessage

from bot.audit_buffer import AuditBuffer
from bot.context import Attachment, Context, Incoming, Reply, Services
from bot.dingtalk_api import DingTalkAPI, DingTalkError
from bot.logs import CURRENT_MESSAGE
from bot.render import robot_message, webhook_body
from bot.router import RateLimiter, Router, as_dict
from models.accounts.identity import identify
from models.accounts.roles import Right, Role, holders, rights_of, role_labels
from models.audit import record_inbound
from models.outbox import QUEUED, enqueue, user_recipient

log = logging.getLogger(__name__)


def to_incoming(message: ChatbotMessage, raw: dict[str, Any]) -> Incoming:
    """The SDK's message object → our Incoming (text, attachments, conversation)."""
    text = message.text.content if message.text else ""
    content = raw.get("content") if isinstance(raw.get("content"), dict) else {}
    attachments: list[Attachment] = []
    if message.message_type == "richText":
        for item in content.get("richText", []):
            if item.get("text"):
                text += item["text"]
            elif item.get("downloadCode"):
                attachments.append(Attachment("picture", item["downloadCode"]))
    elif message.message_type in ("picture", "file", "audio", "video") and content.get("downloadCode"):
        attachments.append(Attachment(message.message_type, content["downloadCode"], content.get("fileName", "")))
        if message.message_type == "audio":
            text = content.get("recognition", "")
    return Incoming(
        msg_id=message.message_id or "", user_id=message.sender_staff_id or "",
        nick=_no_nul(message.sender_nick or ""),
        text=_no_nul(text or ""), conversation_type=str(message.conversation_type or "1"),
        conversation_id=message.conversation_id or "", session_webhook=message.session_webhook or "",
        msgtype=message.message_type or "text", attachments=tuple(attachments),
    )


def _no_nul(text: str) -> str:
    """Without NUL characters, which PostgreSQL cannot store in text (a user can send them)."""
    return text.replace("\x00", "")


class Dispatcher:
    def __init__(self, services: Services, api: DingTalkAPI, limiter: RateLimiter, nudge: Any = None) -> None:
        self.services = services
        self.api = api
        self.limiter = limiter
        self._nudge = nudge  # wakes the outbox worker after a handler enqueued something
        self.metrics: Any = None  # bot.metrics.Metrics, set by the app
        self.replies_sent = 0  # sessionWebhook replies DingTalk accepted
        self.audit = AuditBuffer(services.db)

    @property
    def router(self) -> Router:
        return self.services.router

    async def on_message(self, message: ChatbotMessage, raw: dict[str, Any]) -> None:
        started = time.monotonic()
        msg = to_incoming(message, raw)
        if not msg.msg_id:
            log.warning("message without msgId ignored")
            return
        CURRENT_MESSAGE.set((msg.msg_id, msg.user_id))  # every log line of this task names the message
        QUEUED.set(0)
        if not await self._first_delivery(msg):
            log.info("duplicate delivery of %s ignored", msg.msg_id)
            if self.metrics is not None:
                self.metrics.duplicates.inc()
            return
        command, outcome, account_id = "", "error", None
        try:
            reply, command, outcome, account_id = await self.handle(msg)
        except Exception:
            log.exception("handling message %s failed", msg.msg_id)
            reply = Reply("error.md.j2", outcome="error")
        if reply is not None:
            await self.send_reply(msg, reply)
        self.audit.complete(msg.msg_id, command, outcome, account_id)
        if self._nudge is not None and QUEUED.get():
            self._nudge()
        seconds = time.monotonic() - started
        log.info("message handled", extra={"command": command, "outcome": outcome, "ms": round(seconds * 1000)})
        if self.metrics is not None:
            self.metrics.message(conversation=msg.conversation_type, outcome=outcome, seconds=seconds,
                                 replied=reply is not None)

    async def handle(self, msg: Incoming) -> tuple[Reply | None, str, str, int | None]:
        """Decide the reply; returns (reply, command name, outcome, account id)."""
        verdict = self.limiter.check(msg.user_id or msg.conversation_id)
        if verdict != "ok":
            shown = msg.text.strip() or "图片或文件"
            notice = {"text": shown if len(shown) <= 30 else shown[:30] + "…",
                      "seconds": int(self.limiter.notice_seconds)}
            return (Reply("rate_limited.md.j2", notice, outcome="rate_limited") if verdict == "notify" else None,
                    "", "rate_limited", None)
        account, unit, in_dialogue = None, None, False
        if msg.user_id:
            async with self.services.db.read() as session:
                account, unit, in_dialogue = await identify(session, msg.user_id, msg.conversation_id)
        roles = [Role(r) for r in account.role_codes] if account else []
        rights = rights_of(roles)
        ctx = Context(self.services, account, roles, rights, unit)
        account_id = account.id if account else None
        if in_dialogue and (msg.text.strip() or msg.attachments):
            dialogue = await self.services.dialogues.active(ctx, msg)
            if dialogue is not None:
                reply = await self.services.dialogues.handle(msg, ctx, dialogue)
                return reply, f"对话:{dialogue.flow}", reply.outcome, account_id
        if msg.attachments and not msg.text.strip():
            reply = await self._attachments(msg, ctx)
            if reply is not None:
                return reply, "附件", reply.outcome, account_id
        match = self.router.match(msg.text)
        if match is None:
            for fallback in self.router.fallbacks:
                reply = await fallback(msg, ctx)
                if reply is not None:
                    return reply, fallback.__name__, reply.outcome, account_id
            return self._unmatched(msg, ctx), "", "unknown", account_id
        command = match.command
        if command.right not in rights:
            if account is None:
                return Reply("unknown_user.md.j2", {"nick": msg.nick}, outcome="denied"), command.name, \
                    "denied", None
            related = [as_dict(c) for c in self.router.related(command, rights)]
            data = {"command": command.name, "holders": role_labels(holders(command.right)), "suggestions": related}
            return Reply("denied.md.j2", data, outcome="denied"), command.name, "denied", account_id
        ctx.args, ctx.raw_args = match.args, match.raw_args
        reply = await command.handler(msg, ctx)
        return reply, command.name, reply.outcome, account_id

    async def _attachments(self, msg: Incoming, ctx: Context) -> Reply | None:
        """Photos and files without a command: to the newest record a capability claims them for."""
        claims = [c for c in [await claim(msg, ctx) for claim in self.router.attachment_claims] if c is not None]
        if claims:
            return await max(claims, key=lambda c: c[0])[1](msg, ctx)
        if self.router.attachment_handler is not None:
            return await self.router.attachment_handler(msg, ctx)
        return None

    def _unmatched(self, msg: Incoming, ctx: Context) -> Reply:
        if ctx.account is None:
            return Reply("unknown_user.md.j2", {"nick": msg.nick}, outcome="unknown")
        if not msg.text.strip():
            return Reply("no_text.md.j2", {"msgtype": msg.msgtype}, outcome="unknown")
        suggestions = [as_dict(c) for c in self.router.suggest(msg.text, ctx.rights)]
        return Reply("unknown_command.md.j2", {"text": msg.text.strip()[:30], "suggestions": suggestions},
                     outcome="unknown")

    async def send_reply(self, msg: Incoming, reply: Reply) -> None:
        """Answer by sessionWebhook; if DingTalk keeps failing, push the answer through the outbox."""
        text = self.services.renderer.render(reply.template, reply.data)
        buttons = [] if msg.is_group else reply.buttons  # dtmd buttons are for single chats
        body = webhook_body(text, buttons)
        for attempt in range(3):
            try:
                await self.api.reply(msg.session_webhook, body)
                self.replies_sent += 1
                return
            except DingTalkError as e:
                if not e.retryable or e.ambiguous or attempt == 2:
                    log.warning("reply to %s failed: %s", msg.msg_id, e)
                    break
                await asyncio.sleep(0.5 * (attempt + 1))
        if not msg.is_group and msg.user_id:
            msg_key, param = robot_message(text, buttons)
            async with self.services.db.write() as session:
                await enqueue(session, dedup_key=f"reply:{msg.msg_id}", kind="reply.fallback",
                              recipient=user_recipient(msg.user_id), msg_key=msg_key, param=param)

    async def _first_delivery(self, msg: Incoming) -> bool:
        async with self.services.db.write() as session:
            return await record_inbound(
                session, msg_id=msg.msg_id[:128], sender_user_id=msg.user_id[:64],
                conversation_type=msg.conversation_type[:2], conversation_id=msg.conversation_id[:128],
                text=msg.text[:4000],
            )


__all__ = ["Dispatcher", "Right", "to_incoming"]
