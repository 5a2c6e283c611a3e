"""Scheduled jobs: APScheduler 3.11 as a clock only (in-memory, Asia/Shanghai).

A job scans the database and *enqueues* notifications with an idempotency key; the outbox
worker delivers them. Each job module exposes `register(scheduler, app)`.
"""

from __future__ import annotations

import logging
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from jobs import (
    approvals,
    calendar,
    dialogues,
    digest,
    evaluation,
    feedback,
    rectification,
    retention,
    visits,
    warnings,
)

JOB_MODULES: tuple[Any, ...] = (rectification, approvals, warnings, feedback, visits, evaluation, dialogues, digest,
                                 calendar, retention)


async def catch_up(services: Any) -> None:
    """Missed jobs after downtime run once on start: every job module's `catch_up`, one after another."""
    for module in JOB_MODULES:
        if hasattr(module, "catch_up"):
            try:
                await module.catch_up(services)
            except Exception:
                logging.getLogger(__name__).exception("catch-up of %s failed", module.__name__)


def build_scheduler(app: Any) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        timezone=app.config.bot.timezone,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    for module in JOB_MODULES:
        module.register(scheduler, app)
    return scheduler
