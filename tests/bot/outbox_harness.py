"""Fault-injection harness for the outbox: real bot processes, the emulator, and a total-queue checker.

Bot processes are `python -m bot -c <config> run` started with subprocess.Popen, each with its own
config file, HTTP port and emulator label: its DingTalk endpoint is `<emulator>/_as/<label>`, so
every request the emulator logs names the process that sent it. Crashes are SIGKILL, pauses are
SIGSTOP/SIGCONT; the harness logs each one with its time (`Disruption`).

The checker follows Jepsen's total-queue checker (docs/delivery.md): it compares the
outbox table with the emulator's ledger. A message is identified by its recipient (the ledger's
`to`) and the `[tag]` in its text; the row's dedup_key is `test.reminder:<tag>:<user>`. A merged
message carries several tags. It reports
- lost: rows that should have reached DingTalk and never did;
- duplicated: deliveries beyond the first, summed over rows;
- ambiguous: deliveries made in the one window §8 allows duplicates in — the sending process was
  killed or paused between just before its request arrived and just after the answer (when it
  would record `sent`), or the answer came after the client's timeout (seen by the emulator, or
  logged by the bot: "DingTalk may have accepted the call");
- unexplained: deliveries beyond the first that were not ambiguous (must be 0);
- unexpected: deliveries of rows that were cancelled, expired or failed.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import func, update
from sqlmodel import select

from bot.config import SECRET_ENV
from bot.db import Database
from bot.emulator import Emulator
from bot.migrate import upgrade
from models import Account, OutboxMessage
from models.outbox import CANCELLED, DEAD, EXPIRED, FAILED, PENDING, SENDING, enqueue, user_recipient

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("BOT_TEST_POSTGRES_URL", "")
KIND = "test.reminder"
FINAL = {"sent", FAILED, DEAD, CANCELLED, EXPIRED}
TAG = re.compile(r"\[([^\]\s]+)\]")
GRACE_BEFORE = 0.5  # a request arriving this soon after a kill/pause may have left before it
GRACE_AFTER = 1.0  # time from an answer to its outcome being committed


AMBIGUOUS_LOG = re.compile(r"outbox rows \[([\d, ]+)\]: DingTalk may have accepted")


def _write_lock_free(path: str) -> bool:
    conn = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def user(i: int) -> str:
    return f"u{i:04d}"


def dedup_key(tag: str, user_id: str) -> str:
    return f"{KIND}:{tag}:{user_id}"


# -- databases --------------------------------------------------------------------------------------------
async def create_postgres_db(url: str) -> tuple[str, Any]:
    """A fresh database of its own beside the one in `url` (other suites reset `test`'s schema at
    will); returns its URL and a coroutine function dropping it. Falls back to resetting `url`."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"outbox_faults_{os.getpid()}_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    except asyncpg.PostgresError:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
        await conn.close()

        async def _nothing() -> None:
            return None

        return url, _nothing
    await conn.close()

    async def _drop() -> None:
        c = await asyncpg.connect(dsn)
        try:
            await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await c.close()

    return url.rpartition("/")[0] + "/" + name, _drop


class OutboxDB:
    """The test's own connection to the database the bot processes share."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = Database(url)

    async def setup(self) -> None:
        await upgrade(self.db)

    async def seed(self, tags: list[str], users: list[str], *, mergeable: bool = False,
                   due_at: datetime | None = None, expires_at: datetime | None = None,
                   by_user: bool = False, per_user: bool = False) -> list[str]:
        """One row per (tag, user), tag-major (user-major with `by_user`). Every user of a tag gets
        the same text, so they can share a batchSend; `per_user` makes each text unique instead."""
        pairs = [(t, u) for u in users for t in tags] if by_user else [(t, u) for t in tags for u in users]
        keys = []
        async with self.db.write() as session:
            for tag, u in pairs:
                tag = f"{tag}-{u}" if per_user else tag
                key = dedup_key(tag, u)
                keys.append(key)
                await enqueue(session, dedup_key=key, kind=KIND, recipient=user_recipient(u),
                              msg_key="sampleMarkdown", param={"title": "提醒", "text": f"请处理 [{tag}]"},
                              due_at=due_at, expires_at=expires_at, mergeable=mergeable)
        return keys

    async def add_admin(self, user_id: str = "admin1") -> None:
        async with self.db.write() as session:
            session.add(Account(user_id=user_id, name="管理员", roles="admin"))

    async def rows(self, kind: str | None = KIND) -> list[OutboxMessage]:
        async with self.db.read() as session:
            stmt = select(OutboxMessage).order_by(OutboxMessage.id)  # type: ignore[arg-type]
            if kind is not None:
                stmt = stmt.where(OutboxMessage.kind == kind)
            return list((await session.exec(stmt)).all())

    async def set_status(self, keys: list[str], status: str) -> None:
        stmt = update(OutboxMessage).where(OutboxMessage.dedup_key.in_(keys)).values(status=status)  # type: ignore[attr-defined]
        async with self.db.write() as session:
            await session.exec(stmt)  # type: ignore[call-overload]

    async def open_count(self, kind: str | None = KIND) -> int:
        stmt = select(func.count()).where(OutboxMessage.status.not_in(FINAL))  # type: ignore[attr-defined]
        if kind is not None:
            stmt = stmt.where(OutboxMessage.kind == kind)
        async with self.db.read() as session:
            return int((await session.exec(stmt)).one())

    async def wait_final(self, timeout: float = 30.0, kind: str | None = KIND,
                         cluster: Cluster | None = None) -> list[OutboxMessage]:
        """Wait until every row is in a final state (sent, failed, dead, cancelled, expired); fail
        at once if every bot process of `cluster` has exited (e.g. it refused an outdated schema)."""
        deadline = time.monotonic() + timeout
        while await self.open_count(kind):
            if cluster is not None and cluster.procs and not any(b.alive() for b in cluster.procs):
                raise AssertionError("every bot process exited; see their logs")
            if time.monotonic() > deadline:
                rows = await self.rows(kind)
                open_rows = [(r.dedup_key, r.status, r.attempts) for r in rows if r.status not in FINAL]
                raise AssertionError(f"{len(open_rows)} rows not final after {timeout} s: {open_rows[:5]}")
            await asyncio.sleep(0.2)
        return await self.rows(kind)

    async def wait_for(self, predicate: Any, timeout: float = 20.0) -> list[OutboxMessage]:
        deadline = time.monotonic() + timeout
        while True:
            rows = await self.rows()
            if predicate(rows):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError("database condition not reached: "
                                     f"{[(r.dedup_key, r.status, r.fence) for r in rows[:5]]}")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self.db.dispose()


# -- bot processes ------------------------------------------------------------------------------------------
@dataclass
class Disruption:
    label: str
    start: float  # time.time() of the SIGKILL / SIGSTOP
    end: float  # SIGCONT (a kill: == start)
    kind: str


@dataclass
class BotProcess:
    label: str
    proc: subprocess.Popen[bytes]
    log: Path
    config: Path
    stopped_at: float | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""


@dataclass
class Cluster:
    """Bot processes against one emulator and one database; `close()` kills whatever is left."""

    emulator: Emulator
    db_url: str
    tmp: Path
    outbox: dict[str, Any] = field(default_factory=dict)
    http_timeout: float = 1.0  # with lease_seconds 3: a call may start up to 1 s after its claim
    procs: list[BotProcess] = field(default_factory=list)
    disruptions: list[Disruption] = field(default_factory=list)

    def config_text(self, label: str) -> str:
        outbox = {"poll_seconds": 0.1, "batch_size": 20, "lease_seconds": 3, "max_attempts": 8,
                  "retry_base_seconds": 0.2, "rate_per_second": 200.0, **self.outbox}
        lines = [
            "[dingtalk]", f'client_id = "{self.emulator.client_id}"',
            f'client_secret = "{self.emulator.client_secret}"',
            f'api_endpoint = "{self.emulator.base_url}/_as/{label}"', f'oapi_endpoint = "{self.emulator.base_url}"',
            f"http_timeout = {self.http_timeout}", "watchdog_seconds = 30.0",
            "[database]", f'url = "{self.db_url}"',
            "[server]", 'host = "127.0.0.1"', f"port = {free_port()}",
            "[bot]", 'log_level = "INFO"',
            "[outbox]", *(f"{k} = {v!r}" for k, v in outbox.items()),
        ]
        return "\n".join(lines) + "\n"

    def spawn(self, label: str) -> BotProcess:
        config = self.tmp / f"bot-{label}-{len(self.procs)}.toml"
        config.write_text(self.config_text(label), encoding="utf-8")
        log = self.tmp / f"bot-{label}-{len(self.procs)}.log"
        with log.open("wb") as out:
            env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV.values()}  # the file decides
            proc = subprocess.Popen([sys.executable, "-m", "bot", "-c", str(config), "run"], cwd=ROOT,
                                    stdout=out, stderr=subprocess.STDOUT, env={**env, "PYTHONUNBUFFERED": "1"})
        bot = BotProcess(label, proc, log, config)
        self.procs.append(bot)
        return bot

    def kill(self, bot: BotProcess) -> None:
        now = time.time()
        if bot.alive():
            os.kill(bot.pid, signal.SIGKILL)
            bot.proc.wait(timeout=10)
        self.disruptions.append(Disruption(bot.label, bot.stopped_at or now, now, "kill"))
        bot.stopped_at = None

    def pause(self, bot: BotProcess) -> None:
        bot.stopped_at = time.time()
        os.kill(bot.pid, signal.SIGSTOP)

    async def pause_between_transactions(self, bot: BotProcess, tries: int = 50) -> None:
        """SIGSTOP, but not while the process holds SQLite's write lock: a stopped writer would stall
        every other process for the busy timeout (30 s) — a real hazard of SQLite, but not the
        lease test's subject. PostgreSQL has row locks only, so the first stop stands."""
        path = self.db_url.split(":///", 1)[1] if self.db_url.startswith("sqlite") else ""
        for _ in range(tries):
            self.pause(bot)
            if not path or await asyncio.to_thread(_write_lock_free, path):
                return
            self.resume(bot)
            await asyncio.sleep(0.01)
        raise AssertionError(f"{bot.label} always holds the SQLite write lock")

    def resume(self, bot: BotProcess) -> None:
        os.kill(bot.pid, signal.SIGCONT)
        assert bot.stopped_at is not None
        self.disruptions.append(Disruption(bot.label, bot.stopped_at, time.time(), "pause"))
        bot.stopped_at = None

    def close(self) -> None:
        for bot in self.procs:
            if bot.alive():
                if bot.stopped_at is not None:
                    os.kill(bot.pid, signal.SIGCONT)
                os.kill(bot.pid, signal.SIGKILL)
                bot.proc.wait(timeout=10)

    def ambiguous_row_ids(self) -> set[tuple[str, int]]:
        """(label, row id) for rows a bot process logged as possibly delivered by a call that failed
        (a client-side timeout)."""
        ids: set[tuple[str, int]] = set()
        for bot in self.procs:
            for match in AMBIGUOUS_LOG.finditer(bot.log_text()):
                ids.update((bot.label, int(i)) for i in match.group(1).split(","))
        return ids

    def logs(self) -> str:
        return "\n".join(f"--- {b.label} (pid {b.pid}) ---\n{b.log_text()[-3000:]}" for b in self.procs)


async def wait_until(predicate: Any, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


# -- the checker ----------------------------------------------------------------------------------------------
@dataclass
class Report:
    rows: int
    delivered: dict[str, int]  # dedup_key → deliveries
    lost: list[str]
    duplicated: int
    ambiguous: int
    unexplained: int
    unexpected: list[str]
    retried: int  # rows claimed more than once (fence > 1)

    def __str__(self) -> str:
        return (f"rows={self.rows} lost={len(self.lost)} duplicated={self.duplicated} ambiguous={self.ambiguous} "
                f"unexplained={self.unexplained} unexpected={len(self.unexpected)} retried={self.retried}")

    def assert_ok(self) -> None:
        """The §8 guarantee: nothing lost, duplicates only inside the counted ambiguous window."""
        assert not self.lost, f"lost {len(self.lost)}: {self.lost[:5]} ({self})"
        assert not self.unexpected, f"delivered although cancelled/expired/failed: {self.unexpected[:5]}"
        assert self.duplicated <= self.ambiguous, str(self)
        assert self.unexplained == 0, str(self)


def check(rows: list[OutboxMessage], emulator: Emulator, disruptions: list[Disruption],
          http_timeout: float, ambiguous_rows: set[tuple[str, int]] | None = None) -> Report:
    """`ambiguous_rows`: (label, row id) the bots logged as sent by a call that failed after leaving
    (a timeout the client saw although the emulator answered in time, e.g. a starved process)."""
    key_of = {r.id: r.dedup_key for r in rows}
    flagged = {(label, key_of[i]) for label, i in ambiguous_rows or () if i in key_of}
    requests = {r.id: r for r in emulator.requests}
    by_label: dict[str, list[Disruption]] = defaultdict(list)
    for d in disruptions:
        by_label[d.label].append(d)

    def ambiguous(request_id: int) -> bool:
        r = requests.get(request_id)
        if r is None:
            return True  # not through the logged API: cannot tell, so do not hide it
        answered = r.answered if r.answered is not None else float("inf")
        if answered - r.arrived >= http_timeout - 0.05:
            return True  # the client gave up before the answer: it cannot know
        return any(d.end >= r.arrived - GRACE_BEFORE and d.start <= answered + GRACE_AFTER
                   for d in by_label[r.client])

    deliveries: dict[str, list[bool]] = defaultdict(list)  # key → [ambiguous?] per delivery
    for sent in emulator.ledger:
        if sent.kind != "oto":
            continue
        for tag in TAG.findall(sent.text):
            key = dedup_key(tag, sent.to)
            client = requests[sent.request].client if sent.request in requests else ""
            deliveries[key].append((client, key) in flagged or ambiguous(sent.request))
    should = {r.dedup_key for r in rows if r.status not in (CANCELLED, EXPIRED, FAILED)}
    never = {r.dedup_key for r in rows if r.status in (CANCELLED, EXPIRED)}
    failed = {r.dedup_key for r in rows if r.status == FAILED}
    unfinished = {r.dedup_key for r in rows if r.status in (PENDING, SENDING)}  # not done = not delivered
    lost = sorted({k for k in should if not deliveries.get(k)} | unfinished)
    duplicated = sum(max(0, len(v) - 1) for v in deliveries.values())
    ambiguous_count = sum(sum(v) for v in deliveries.values())
    unexplained = sum(max(0, v.count(False) - 1) for v in deliveries.values())
    unexpected = sorted(k for k in never | failed if deliveries.get(k))
    return Report(len(rows), {k: len(v) for k, v in deliveries.items()}, lost, duplicated, ambiguous_count,
                  unexplained, unexpected, sum(r.fence > 1 for r in rows))
