"""Scheduled jobs: APScheduler 3.11 as a clock only (in-memory, Asia/Shanghai).

A job scans the database and *enqueues* notifications with an idempotency key; the outbox
worker delivers them. Each job module exposes `register(scheduler, app)`.
"""

from __future__ import annotations

from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from jobs import dialogues, digest, feedback_overdue, ladder, urge, visits, warnings

JOB_MODULES: tuple[Any, ...] = (ladder, urge, warnings, feedback_overdue, visits, dialogues, digest)


def build_scheduler(app: Any) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        timezone=app.config.bot.timezone,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    for module in JOB_MODULES:
        module.register(scheduler, app)
    return scheduler
