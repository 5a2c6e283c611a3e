"""`db backup` / `db restore` round trip with a running bot, the retention purge, and `db copy`."""

from __future__ import annotations

import dataclasses
import os
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.backup import BackupError, backup, copy_to, db_command, restore
from bot.db import Database
from bot.emulator import Emulator
from jobs.retention import purge_old_texts
from models import AuditEvent, InboundMessage, Unit
from models.audit import record_inbound
from tests.conftest import PG_URL


async def texts(db: Database) -> list[str]:
    async with db.read() as session:
        return list((await session.exec(select(InboundMessage.text).order_by(InboundMessage.id))).all())


async def say(emulator: Emulator, text: str) -> None:
    await emulator.wait_reply(await emulator.send_text("jyj_ll", text))


async def test_backup_while_running_then_restore(make_bot, emulator: Emulator, db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    app = await make_bot()
    cfg = dataclasses.replace(app.config, database=dataclasses.replace(app.config.database, url=db_url))
    await say(emulator, "我是谁")
    file = tmp_path / "backups" / "bianban.bak"
    line = await backup(cfg, file)  # online: the bot keeps running and writing
    assert str(file) in line and "附件目录" in line
    assert file.stat().st_mode & 0o077 == 0  # the backup holds personal data: owner only
    assert sorted(p.name for p in file.parent.iterdir()) == ["bianban.bak"]  # one self-contained file
    await say(emulator, "帮助")
    assert await texts(app.db) == ["我是谁", "帮助"]

    await app.stop()
    assert "已" in await restore(cfg, file)
    again = await make_bot()
    assert await texts(again.db) == ["我是谁"]  # the state of the backup, not what came after
    await say(emulator, "整改")  # and the restored bot works
    assert await texts(again.db) == ["我是谁", "整改"]


async def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path, emulator: Emulator):
    from tests.conftest import bot_config

    db_url = f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    cfg = bot_config(emulator, db_url, tmp_path, database={"url": db_url})
    junk = tmp_path / "junk.db"
    for content in (b"", b"not a database at all, just some text" * 50):
        junk.write_bytes(content)
        with pytest.raises(BackupError, match="不是本机器人的数据库备份"):
            await restore(cfg, junk)
    assert await db_command(cfg, "restore", None, None) == 1


async def test_nightly_purge_blanks_old_texts_and_keeps_rows(bot, db_url: str):  # type: ignore[no-untyped-def]
    now = bot.services.clock()
    async with bot.db.write() as session:
        await record_inbound(session, msg_id="old", text="身份证 330102199001011234", sender_user_id="jyj_ll",
                             received_at=now - timedelta(days=1100), command="进度")
        await record_inbound(session, msg_id="recent", text="整改", received_at=now - timedelta(days=10))
    assert await purge_old_texts(bot.services) == 1
    assert await purge_old_texts(bot.services) == 0  # nothing left to blank
    async with bot.db.read() as session:
        rows = {r.msg_id: r for r in (await session.exec(select(InboundMessage))).all()}
        events = (await session.exec(select(AuditEvent).where(AuditEvent.action == "retention.purge"))).all()
    assert rows["old"].text == "" and rows["old"].sender_user_id == "jyj_ll" and rows["old"].command == "进度"
    assert rows["recent"].text == "整改"
    assert len(events) == 1 and '"清除消息原文": 1' in events[0].detail
    assert bot.scheduler.get_job("retention") is not None

    keep = dataclasses.replace(bot.config, retention=dataclasses.replace(bot.config.retention, message_text_days=0))
    bot.services.config = keep
    async with bot.db.write() as session:
        await record_inbound(session, msg_id="older", text="x", received_at=now - timedelta(days=5000))
    assert await purge_old_texts(bot.services) == 0  # 0 = keep forever


async def _fresh_pg(name: str) -> str:
    base = PG_URL.rpartition("/")[0]
    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{base}/{name}"


@pytest.mark.parametrize("target", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_copy_sqlite_to_another_store(target: str, tmp_path: Path, emulator: Emulator):
    from bot.demo import load_demo_data
    from tests.conftest import bot_config

    db_url = f"sqlite+aiosqlite:///{tmp_path / 'source.db'}"
    demo_db = Database(db_url)
    await load_demo_data(demo_db)
    if target == "postgres":
        if not PG_URL:
            pytest.skip("PostgreSQL tests need BOT_TEST_POSTGRES_URL (set by .ci/run)")
        to = await _fresh_pg(f"bianban_copy_{os.getpid()}")
    else:
        to = f"sqlite+aiosqlite:///{tmp_path / 'copy.db'}"
    async with demo_db.write() as session:  # a row with a timestamp, an audit row and a message text
        await record_inbound(session, msg_id="m1", text="进度 SP-2026-0001", sender_user_id="jyj_ll")
    cfg = bot_config(emulator, db_url, tmp_path, database={"url": db_url})
    report, shown = await copy_to(cfg, to)
    assert shown.rpartition("/")[2] == to.rpartition("/")[2]
    counts = {r.name: (r.source, r.target) for r in report}
    assert all(s == t for s, t in counts.values())
    assert counts["unit"][0] == 31 and counts["account"][0] > 0 and counts["inboundmessage"] == (1, 1)

    copied = Database(to)
    try:
        async with copied.write() as session:  # sequences continue after the copied ids
            session.add(Unit(name="新增测试单位", short_name="新增", uscc="11331099MB9999999X", kind="行政机关"))
        async with copied.read() as session:
            assert (await session.exec(select(func.count()).select_from(Unit))).one() == 32
            [inbound] = (await session.exec(select(InboundMessage))).all()
        assert inbound.text == "进度 SP-2026-0001" and inbound.received_at.tzinfo is not None
    finally:
        await copied.dispose()
    with pytest.raises(BackupError, match="只能复制到空数据库"):
        await copy_to(cfg, to)
    await demo_db.dispose()
