"""The outbox under faults (docs/delivery.md): real `python -m bot run` processes
killed with SIGKILL, paused with SIGSTOP, against the emulator's injected DingTalk faults.

Every process test ends with the total-queue checker (tests/bot/outbox_harness.py): nothing lost,
and duplicates only within the ambiguous window it counts (a crash or pause after DingTalk
accepted a message and before `sent` was recorded). The first tests run one OutboxWorker in
this process to show how reminders for one person merge.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.config import DingTalkConfig, OutboxConfig
from bot.dingtalk_api import DingTalkAPI
from bot.emulator import Emulator, Fault, Request, Sent
from bot.outbox import OutboxWorker
from models import OutboxMessage
from models.base import utcnow
from models.outbox import CANCELLED, EXPIRED, FAILED, PENDING, SENDING, SENT
from tests.bot.outbox_harness import (
    Cluster,
    Disruption,
    OutboxDB,
    check,
    dedup_key,
    user,
    wait_until,
)


@pytest.fixture
async def cluster(emulator: Emulator, shared_db: OutboxDB, tmp_path: Path) -> AsyncIterator[Cluster]:
    c = Cluster(emulator, shared_db.url, tmp_path)
    try:
        yield c
    finally:
        c.close()
        print(c.logs())  # shown by pytest when the test failed


def users(n: int, start: int = 1) -> list[str]:
    return [user(i) for i in range(start, start + n)]


async def finish(cluster: Cluster, shared_db: OutboxDB, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    """Wait until every row is final, then run the checker and assert the §8 guarantee."""
    rows = await shared_db.wait_final(timeout, cluster=cluster)  # the cluster fixture prints the bots' logs
    report = check(rows, cluster.emulator, cluster.disruptions, cluster.http_timeout, cluster.ambiguous_row_ids())
    print(report)
    report.assert_ok()
    return rows, report


# -- merging reminders per person (one worker in this process) ----------------------------------------------
@pytest.fixture
async def worker(emulator: Emulator, shared_db: OutboxDB) -> AsyncIterator[OutboxWorker]:
    cfg = DingTalkConfig(client_id=emulator.client_id, client_secret=emulator.client_secret,
                         api_endpoint=emulator.base_url, http_timeout=3.0)
    async with aiohttp.ClientSession() as http:
        api = DingTalkAPI(cfg, http)
        yield OutboxWorker(shared_db.db, api, OutboxConfig(lease_seconds=10, retry_base_seconds=0.01,
                                                           rate_per_second=1000.0), owner="test")


async def drain(worker: OutboxWorker, shared_db: OutboxDB) -> None:
    """Dispatch until every row is final (retries are due within milliseconds)."""
    for _ in range(200):
        if all(r.status in (SENT, FAILED) for r in await shared_db.rows()):
            return
        if await worker.dispatch_once() == 0:
            await asyncio.sleep(0.05)
    raise AssertionError("outbox did not drain")


async def test_reminders_for_one_person_merge_into_one_message(worker, shared_db, emulator):
    await shared_db.seed(["a", "b", "c"], ["u0001"], mergeable=True)
    await shared_db.seed(["a"], ["u0002"], mergeable=True)  # alone: goes out as it is
    await shared_db.seed(["x"], ["u0002", "u0003"])  # not mergeable: one batchSend for both
    await drain(worker, shared_db)

    [merged] = emulator.pushes_to("u0001")
    assert merged.msg_key == "sampleMarkdown"
    assert merged.param["title"] == "您有3条提醒"
    assert merged.text == "请处理 [a]\n\n---\n\n请处理 [b]\n\n---\n\n请处理 [c]"
    assert sorted(s.text for s in emulator.pushes_to("u0002")) == ["请处理 [a]", "请处理 [x]"]
    assert worker.calls == 3 and worker.sent_rows == 6 and worker.merged_rows == 3
    x_requests = {s.request for s in emulator.ledger if s.text == "请处理 [x]"}
    assert len(x_requests) == 1
    rows = await shared_db.rows()
    assert all(r.status == SENT for r in rows)
    check(rows, emulator, [], 3.0).assert_ok()


@pytest.mark.parametrize("fault", ["503", "flow_control"])
async def test_a_merged_message_is_retried_as_one(worker, shared_db, emulator, fault):
    if fault == "503":
        emulator.faults.inject("batchSend", Fault(status=503))
    else:
        emulator.faults.flow_control(["u0001"])
    await shared_db.seed(["a", "b", "c"], ["u0001"], mergeable=True)
    assert await worker.dispatch_once() == 3
    rows = await shared_db.rows()
    assert {r.status for r in rows} == {PENDING} and len({r.next_attempt_at for r in rows}) == 1
    await drain(worker, shared_db)
    [push] = emulator.pushes_to("u0001")
    assert push.param["title"] == "您有3条提醒"
    assert worker.calls == 2 and worker.retried_rows == 3 and worker.sent_rows == 3
    assert [r.attempts for r in await shared_db.rows()] == [2, 2, 2]


@pytest.mark.parametrize("shared_db", ["sqlite"], indirect=True)  # backend-independent: SQLite only
# -- crashes ------------------------------------------------------------------------------------------------
async def test_killed_before_any_claim_a_restart_sends_every_row_once(cluster, shared_db):
    await shared_db.seed(["a", "b"], users(10))
    first = cluster.spawn("A")
    await asyncio.sleep(0.2)  # the process is still importing: it cannot have claimed anything
    cluster.kill(first)
    assert all(r.status == PENDING and r.fence == 0 for r in await shared_db.rows())
    cluster.spawn("B")
    rows, report = await finish(cluster, shared_db)
    assert report.duplicated == 0 and set(report.delivered.values()) == {1} and len(report.delivered) == 20
    assert all(r.fence == 1 for r in rows)


async def test_killed_after_the_claim_before_the_send_rows_are_reclaimed(cluster, shared_db, emulator):
    emulator.faults.inject("accessToken", Fault(status=0, delay=30))  # holds A between claim and send
    await shared_db.seed(["a"], users(5))
    first = cluster.spawn("A")
    await wait_until(lambda: emulator.requests_to("accessToken", "A"), what="A to ask for a token")
    claimed = await shared_db.rows()
    assert all(r.status == SENDING and r.fence == 1 for r in claimed)  # the claim committed first
    cluster.kill(first)
    cluster.spawn("B")
    rows, report = await finish(cluster, shared_db)
    assert report.duplicated == 0 and set(report.delivered.values()) == {1}
    assert all(r.fence == 2 for r in rows)  # reclaimed once the lease expired
    assert not emulator.requests_to("batchSend", "A")


async def test_killed_after_dingtalk_accepted_before_sent_duplicates_are_counted(cluster, shared_db, emulator):
    emulator.faults.hold("batchSend", 30)  # A's first call is recorded, its answer never comes
    await shared_db.seed(["a", "b"], users(5))
    first = cluster.spawn("A")
    await wait_until(lambda: len(emulator.ledger) >= 5, what="A's first call to be accepted")
    cluster.kill(first)
    cluster.spawn("B")
    rows, report = await finish(cluster, shared_db)
    # §8's one window: the 5 messages of the held call were sent again by B, and each is counted
    assert report.duplicated == 5 == report.ambiguous
    assert sorted(report.delivered.values()) == [1] * 5 + [2] * 5
    assert all(r.status == SENT for r in rows)


@pytest.mark.parametrize("shared_db", ["sqlite"], indirect=True)  # backend-independent: SQLite only
# -- DingTalk errors ------------------------------------------------------------------------------------------
async def test_a_5xx_burst_is_retried_with_bounded_attempts(cluster, shared_db, emulator):
    emulator.faults.inject("batchSend", Fault(status=503), times=3)
    await shared_db.seed(["a", "b", "c"], users(4))
    cluster.spawn("A")
    rows, report = await finish(cluster, shared_db)
    assert report.duplicated == 0 and set(report.delivered.values()) == {1}
    assert max(r.attempts for r in rows) <= 4  # one per failure it met, plus the one that worked
    statuses = [r.status for r in emulator.requests_to("batchSend")]
    assert statuses.count(503) == 3 and statuses.count(200) == 3  # a failed batch is retried as one batch


@pytest.mark.parametrize("shared_db", ["sqlite"], indirect=True)  # backend-independent: SQLite only
async def test_429_retry_after_holds_every_call_until_the_window_ends(cluster, shared_db, emulator):
    emulator.faults.inject("batchSend", Fault(status=429, retry_after=1.5))
    await shared_db.seed(["a", "b", "c"], users(3))
    cluster.spawn("A")
    await finish(cluster, shared_db)
    calls = emulator.requests_to("batchSend")
    [throttled] = [r for r in calls if r.status == 429]
    later = [r for r in calls if r.arrived > throttled.arrived]
    assert len(later) == 3
    assert all(r.arrived >= throttled.answered + 1.5 - 0.01 for r in later), "a call inside the Retry-After window"


@pytest.mark.parametrize("shared_db", ["sqlite"], indirect=True)  # backend-independent: SQLite only
async def test_flow_controlled_users_alone_are_sent_again(cluster, shared_db, emulator):
    emulator.faults.flow_control(["u0002", "u0004"])
    await shared_db.seed(["a"], users(5))
    cluster.spawn("A")
    _rows, report = await finish(cluster, shared_db)
    assert report.duplicated == 0 and set(report.delivered.values()) == {1}
    first, second = emulator.requests_to("batchSend")
    assert sorted(s.to for s in emulator.ledger if s.request == first.id) == ["u0001", "u0003", "u0005"]
    assert sorted(s.to for s in emulator.ledger if s.request == second.id) == ["u0002", "u0004"]


@pytest.mark.parametrize("shared_db", ["sqlite"], indirect=True)  # backend-independent: SQLite only
async def test_a_permanent_4xx_fails_without_retry_and_alerts_admins(cluster, shared_db, emulator):
    await shared_db.add_admin("admin1")
    emulator.faults.inject("batchSend", Fault(status=400, code="invalidParameter", message="参数错误"))
    [key] = await shared_db.seed(["a"], ["u0001"])
    cluster.spawn("A")
    [alert] = await emulator.wait_push("admin1", timeout=20)
    assert "test.reminder" in alert.text and "u0001" in alert.text
    rows, _report = await finish(cluster, shared_db)
    assert [(r.dedup_key, r.status, r.attempts) for r in rows] == [(key, FAILED, 1)]
    assert "invalidParameter" in rows[0].last_error
    assert [r.status for r in emulator.requests_to("batchSend")] == [400, 200]  # the failure, then the alert
    assert not emulator.pushes_to("u0001")


@pytest.mark.parametrize("shared_db", ["sqlite"], indirect=True)  # backend-independent: SQLite only
async def test_cancelled_and_expired_reminders_are_not_sent(cluster, shared_db, emulator):
    cancelled = await shared_db.seed(["cancel"], users(3))
    expired = await shared_db.seed(["late"], users(3), due_at=utcnow() - timedelta(hours=2),
                                   expires_at=utcnow() - timedelta(hours=1))
    kept = await shared_db.seed(["kept"], users(3))
    await shared_db.set_status(cancelled, CANCELLED)
    cluster.spawn("A")
    rows, report = await finish(cluster, shared_db)
    status = {r.dedup_key: r.status for r in rows}
    assert [status[k] for k in cancelled] == [CANCELLED] * 3 and [status[k] for k in expired] == [EXPIRED] * 3
    assert set(report.delivered) == set(kept)
    assert {s.text for s in emulator.ledger} == {"请处理 [kept]"}


# -- leases ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("shared_db", "moment"), [
    ("sqlite", "before_the_send"), ("sqlite", "after_dingtalk_accepted"),
    pytest.param("postgres", "after_dingtalk_accepted", marks=pytest.mark.postgres),
], indirect=["shared_db"])
async def test_a_paused_lease_holder_loses_to_the_fence(cluster, shared_db, emulator, moment):
    """SIGSTOP A past its lease; B reclaims and sends; SIGCONT A: its completion is rejected."""
    if moment == "before_the_send":
        emulator.faults.inject("accessToken", Fault(status=0, delay=0.5))
    else:
        emulator.faults.hold("batchSend", 0.5)
    keys = await shared_db.seed(["a"], users(3))
    first = cluster.spawn("A")
    if moment == "before_the_send":
        await wait_until(lambda: emulator.requests_to("accessToken", "A"), what="A to claim")
    else:
        await wait_until(lambda: len(emulator.ledger) >= 3, what="A's call to be accepted")
    await cluster.pause_between_transactions(first)
    second = cluster.spawn("B")
    await shared_db.wait_for(lambda rows: all(r.status == SENT for r in rows), timeout=30)
    cluster.resume(first)
    await wait_until(lambda: "lease lost" in first.log_text() or "rows released" in first.log_text(),
                     what="A to try to record its outcome")
    await asyncio.sleep(0.3)
    rows, report = await finish(cluster, shared_db)
    assert all(r.fence == 2 and f":{second.pid}:" in r.lease_owner for r in rows)  # B's claim stands
    assert "lease lost" in first.log_text()
    if moment == "before_the_send":
        assert report.duplicated == 0 and not emulator.requests_to("batchSend", "A")  # A never sent
    else:
        assert report.duplicated == 3 == report.ambiguous  # A's accepted call, counted
    assert sorted(report.delivered) == sorted(keys)


async def test_processes_killed_at_random_lose_nothing(cluster, shared_db, emulator):
    """Three processes, 1000 due rows, four random SIGKILLs and restarts (some during held answers)."""
    rng = random.Random(20261123)
    cluster.outbox = {"rate_per_second": 50.0, "batch_size": 10}  # ≥ 2 s of work for three processes
    await shared_db.seed([f"s{i:02d}" for i in range(25)], users(20))  # 500 rows, 25 batchable texts
    await shared_db.seed(["m0", "m1", "m2", "m3", "m4"], users(40, 101), mergeable=True, by_user=True,
                         per_user=True)  # 200 rows: 5 reminders for each of 40 people
    await shared_db.seed([f"r{i:03d}" for i in range(10)], users(30, 201), per_user=True)  # 300 single rows
    labels = ["A", "B", "C"]
    procs = {label: cluster.spawn(label) for label in labels}
    await wait_until(lambda: emulator.requests_to("batchSend"), what="the first send")
    for label in [*rng.sample(labels, 3), rng.choice(labels)]:  # every process dies at least once
        await asyncio.sleep(rng.uniform(0.3, 0.8))
        if rng.random() < 0.5:
            emulator.faults.hold("batchSend", 0.3, times=2)  # widen the ambiguous window now and then
            await asyncio.sleep(rng.uniform(0.0, 0.3))
        cluster.kill(procs[label])
        procs[label] = cluster.spawn(label)
    rows, report = await finish(cluster, shared_db, timeout=45)
    assert len(rows) == 1000 and len(report.delivered) == 1000


async def test_the_checker_counts_lost_and_duplicated_messages():
    """The checker itself: a row never delivered is lost; a second unexplained delivery is flagged."""
    emu = Emulator()
    emu.requests += [Request(1, "batchSend", "A", 10.0, 10.01, 200), Request(2, "batchSend", "A", 20.0, 20.01, 200)]
    emu.ledger += [Sent("oto", "u0001", "sampleMarkdown", {"text": "x [a]"}, request=1),
                   Sent("oto", "u0001", "sampleMarkdown", {"text": "x [a]"}, request=2)]
    rows = [OutboxMessage(dedup_key=dedup_key(tag, "u0001"), kind="test.reminder", recipient="user:u0001",
                          msg_key="sampleMarkdown", payload="{}", status=SENT) for tag in ("a", "b")]
    report = check(rows, emu, [], 1.5)
    assert report.lost == [dedup_key("b", "u0001")]
    assert report.duplicated == 1 and report.ambiguous == 0 and report.unexplained == 1
    report = check(rows, emu, [Disruption("A", 10.5, 10.5, "kill")], 1.5)  # A died just after call 1
    assert report.duplicated == 1 and report.ambiguous == 1 and report.unexplained == 0
