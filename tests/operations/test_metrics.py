"""/metrics (Prometheus text), /readyz, and JSON logs with message and user ids but no secrets."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.cli import setup_logging
from bot.config import LoggingConfig
from bot.emulator import Emulator, Fault
from bot.notify import notify_users


async def get(bot, path: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{bot.port}{path}") as resp:
        return resp.status, await resp.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_count_what_the_bot_does(bot, emulator: Emulator):  # type: ignore[no-untyped-def]
    msg_id = await emulator.send_text("jyj_ll", "我是谁")
    await emulator.wait_reply(msg_id)

    emulator.faults.inject("batchSend", Fault(status=503))  # the first push fails once, then goes out
    async with bot.db.write() as session:
        await notify_users(session, bot.services.renderer, kind="test", key="1", user_ids=["jyj_ll"],
                           template="message.md.j2", data={"text": "测试推送"})
    bot.outbox.nudge()
    await emulator.wait_until(lambda: any("测试推送" in s.text for s in emulator.pushes_to("jyj_ll")), timeout=15)

    job = bot.scheduler.get_job("retention")
    await job.func(*job.args)  # the scheduler's wrapped job, as a cron tick would run it

    await emulator.drop_sockets()  # a network fault: the bot reconnects
    await asyncio.wait_for(_until(lambda: bot.stream.connections >= 2 and bot.stream.connected.is_set()), 15)

    status, text = await get(bot, "/metrics")
    assert status == 200
    m = samples(text)
    assert m[("bianban_messages_in_total", (("conversation", "single"),))] == 1
    assert m[("bianban_replies_total", (("outcome", "ok"),))] == 1
    assert m[("bianban_handler_seconds_count", ())] == 1
    assert m[("bianban_messages_out_total", (("via", "reply"),))] == 1
    assert m[("bianban_messages_out_total", (("via", "outbox"),))] >= 1
    assert m[("bianban_send_attempts_total", ())] >= 2
    assert m[("bianban_send_failures_total", (("code", "Http503"),))] == 1
    assert m[("bianban_ambiguous_sends_total", ())] == 0
    assert m[("bianban_outbox_messages", (("status", "sent"),))] >= 1
    assert ("bianban_outbox_messages", (("status", "dead"),)) in m
    assert m[("bianban_stream_reconnects_total", ())] == 1
    assert m[("bianban_stream_connected", ())] == 1
    assert m[("bianban_job_runs_total", (("job", "retention"), ("result", "ok")))] == 1
    observed = m[("bianban_job_duration_seconds_count", (("job", "retention"),))]  # one run observed
    assert observed == 1
    assert m[("bianban_job_last_success_timestamp_seconds", (("job", "retention"),))] > 1.7e9


async def _until(predicate) -> None:  # type: ignore[no-untyped-def]
    while not predicate():  # noqa: ASYNC110 (a plain flag of the bot, no event to wait on)
        await asyncio.sleep(0.05)


async def test_readyz_covers_database_and_stream(bot, emulator: Emulator):  # type: ignore[no-untyped-def]
    status, text = await get(bot, "/readyz")
    assert status == 200 and json.loads(text) == {"database": True, "stream": True, "outbox": True,
                                                  "scheduler": True}
    emulator.faults.inject("connections/open", Fault(status=503), times=1000)
    await emulator.drop_sockets()
    await asyncio.wait_for(_until(lambda: not bot.stream.connected.is_set()), 10)
    status, text = await get(bot, "/readyz")
    assert status == 503 and json.loads(text)["stream"] is False and json.loads(text)["database"] is True
    emulator.faults.clear()


async def test_json_logs_name_the_message_and_never_the_secret(bot, emulator: Emulator,
                                                               capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    cfg = dataclasses.replace(bot.config, logging=LoggingConfig(format="json"))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    setup_logging(cfg)
    try:
        logging.getLogger("bot.test").warning("calling with secret %s", cfg.dingtalk.client_secret)
        msg_id = await emulator.send_text("jyj_ll", "我是谁")
        await emulator.wait_reply(msg_id)
        await asyncio.sleep(0.2)  # the audit update and the last log line follow the reply
    finally:
        root.handlers[:], root.level = handlers, level
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message"} <= set(e) for e in lines)
    assert cfg.dingtalk.client_secret not in err
    assert any(e["message"] == "calling with secret ***" for e in lines)
    [handled] = [e for e in lines if e["message"] == "message handled"]
    assert handled["msg_id"] == msg_id and handled["user_id"] == "jyj_ll" and handled["outcome"] == "ok"
    assert handled["command"] == "我是谁" and isinstance(handled["ms"], int)
