"""`/metrics` in the Prometheus text format, from one registry the app builds (no global state).

Counters the bot updates as it goes (messages, replies, handler latency, jobs) live here; what
other parts already count (the outbox worker's rows and calls, the stream's connections) is read
at scrape time by a collector, and the outbox depth by status is queried from the database.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import select

from models.outbox import OutboxMessage

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "dead", "expired")


class Metrics:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.messages_in = Counter("bianban_messages_in_total", "Messages received from DingTalk (first deliveries)",
                                   ["conversation"], registry=r)
        self.duplicates = Counter("bianban_messages_duplicate_total", "Redeliveries ignored", registry=r)
        self.replies = Counter("bianban_replies_total", "Replies by outcome", ["outcome"], registry=r)
        self.handler_seconds = Histogram(
            "bianban_handler_seconds", "Time from a message's arrival to its reply (seconds)", registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
        self.job_runs = Counter("bianban_job_runs_total", "Scheduled job runs by result", ["job", "result"],
                                registry=r)
        self.job_seconds = Histogram("bianban_job_duration_seconds", "Scheduled job duration (seconds)", ["job"],
                                     registry=r, buckets=(0.1, 0.5, 1, 5, 15, 60, 300))
        self.job_last_success = Gauge("bianban_job_last_success_timestamp_seconds",
                                      "Unix time of each job's last successful run", ["job"], registry=r)
        self.outbox_depth = Gauge("bianban_outbox_messages", "Outbox rows by status", ["status"], registry=r)
        r.register(_RuntimeCollector(app))

    # -- hooks ---------------------------------------------------------------------------------------
    def message(self, *, conversation: str, outcome: str, seconds: float, replied: bool) -> None:
        self.messages_in.labels("group" if conversation == "2" else "single").inc()
        if replied:
            self.replies.labels(outcome or "ok").inc()
        self.handler_seconds.observe(seconds)

    def instrument_scheduler(self, scheduler: Any) -> None:
        """Wrap every job so its runs, duration and last success are counted."""
        for job in scheduler.get_jobs():
            scheduler.modify_job(job.id, func=self._timed(job.id, job.func))

    def _timed(self, job_id: str, fn: Any) -> Any:
        @functools.wraps(fn)
        async def run(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                result = await fn(*args, **kwargs)
            except Exception:
                self.job_runs.labels(job_id, "error").inc()
                raise
            finally:
                self.job_seconds.labels(job_id).observe(time.monotonic() - started)
            self.job_runs.labels(job_id, "ok").inc()
            self.job_last_success.labels(job_id).set(time.time())
            return result
        return run

    # -- scrape --------------------------------------------------------------------------------------
    async def render(self) -> bytes:
        counts = dict.fromkeys(OUTBOX_STATUSES, 0)
        async with self.app.db.read() as session:
            rows = (await session.exec(select(OutboxMessage.status, func.count())
                                       .group_by(OutboxMessage.status))).all()
        counts.update({status: n for status, n in rows})
        for status, n in counts.items():
            self.outbox_depth.labels(status).set(n)
        return generate_latest(self.registry)


class _RuntimeCollector(Collector):
    """What the outbox worker and the stream client count themselves, read at scrape time."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        outbox = getattr(self.app, "outbox", None)
        stream = getattr(self.app, "stream", None)
        if outbox is not None:
            out = CounterMetricFamily("bianban_messages_out", "Messages DingTalk accepted, by way", labels=["via"])
            out.add_metric(["outbox"], outbox.messages)
            out.add_metric(["reply"], getattr(self.app.dispatcher, "replies_sent", 0))
            yield out
            yield CounterMetricFamily("bianban_send_attempts", "Outbox calls to DingTalk (batchSend, group send)",
                                      value=outbox.calls)
            failures = CounterMetricFamily("bianban_send_failures", "Failed outbox calls by DingTalk error code",
                                           labels=["code"])
            for code, n in sorted(outbox.failures_by_code.items()):
                failures.add_metric([code], n)
            yield failures
            yield CounterMetricFamily("bianban_ambiguous_sends", "Outbox rows in a call DingTalk may have accepted "
                                      "although it failed (timeout)", value=outbox.ambiguous_rows)
            rows = CounterMetricFamily("bianban_outbox_rows", "Outbox row outcomes", labels=["outcome"])
            for outcome in ("sent", "retried", "failed", "dead", "expired"):
                rows.add_metric([outcome], getattr(outbox, f"{outcome}_rows"))
            yield rows
        if stream is not None:
            yield CounterMetricFamily("bianban_stream_reconnects", "Stream connections opened after the first",
                                      value=max(0, stream.connections - 1))
            yield GaugeMetricFamily("bianban_stream_connected", "1 while the Stream socket is open",
                                    value=1 if stream.connected.is_set() else 0)
