"""Nightly purge of old inbound message texts (`[retention] message_text_days`, 0 = keep)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from bot.context import Services
from models.retention import purge_message_texts

log = logging.getLogger(__name__)


async def purge_old_texts(services: Services) -> int:
    days = services.config.retention.message_text_days
    if days <= 0:
        return 0
    async with services.db.write() as session:
        count = await purge_message_texts(session, services.clock() - timedelta(days=days))
    if count:
        log.info("retention: blanked the text of %d inbound messages older than %d days", count, days)
    return count


def register(scheduler: Any, app: Any) -> None:
    scheduler.add_job(purge_old_texts, "cron", hour=3, minute=30, args=[app.services], id="retention",
                      replace_existing=True)
