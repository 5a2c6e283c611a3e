"""`doctor` against the emulator: all green, then each fault on its own turns exactly its line red."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import os
import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Config
from bot.db import Database
from bot.doctor import run_doctor
from bot.emulator import Emulator, Fault
from bot.importing import import_file
from tests.conftest import FakeClock, beijing, bot_config

SAMPLE_2027 = Path(__file__).resolve().parents[2] / "bot" / "demo" / "holidays-2027.csv"
SUMMER = beijing("2026-06-01 10:00")  # the package covers 2026 and the next 60 days
DENIED = Fault(status=403, code="Forbidden.AccessDenied.AccessTokenPermissionDenied", message="没有调用该接口的权限")


def _private(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        path = db_url.split(":///", 1)[1]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.chmod(path + suffix, 0o600)


async def doctor(cfg: Config, when=SUMMER) -> tuple[int, dict[str, str]]:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    code = await run_doctor(cfg, clock=FakeClock(when), out=out)
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("共 ")
    by_name = {line[2:].split("：", 1)[0]: line for line in lines[:-1]}
    assert all(line[0] in "✓✗" for line in by_name.values())
    return code, by_name


@pytest.fixture
def restore_logging():  # type: ignore[no-untyped-def]
    """main() points the root logger at this test's captured stderr: give the old handlers back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def failed(lines: dict[str, str]) -> set[str]:
    return {name for name, line in lines.items() if line.startswith("✗")}


@pytest.fixture
async def cfg(emulator: Emulator, db: Database, db_url: str, tmp_path: Path) -> Config:
    _private(db_url)
    return bot_config(emulator, db_url, tmp_path, storage={"min_free_mb": 1}, database={"url": db_url})


async def test_all_checks_pass(cfg: Config):
    code, lines = await doctor(cfg)
    assert code == 0, "\n".join(lines.values())
    assert {"配置", "数据库连接", "数据库版本", "节假日安排", "钉钉凭证", "服务器时钟", "权限 单聊发消息",
            "权限 群聊发消息", "权限 下载用户发来的文件", "权限 上传文件（导出 Excel）", "Stream 连接",
            "附件磁盘空间"} <= set(lines)
    if cfg.database.url.startswith("sqlite"):
        assert {"SQLite 日志模式", "数据库文件权限"} <= set(lines)
        assert lines["SQLite 日志模式"].endswith("wal")


async def test_wrong_secret(cfg: Config):
    bad = dataclasses.replace(cfg, dingtalk=dataclasses.replace(cfg.dingtalk, client_secret="wrong-secret"))
    code, lines = await doctor(bad)
    assert code == 1 and failed(lines) == {"钉钉凭证"}
    assert "client_secret" in lines["钉钉凭证"]


async def test_token_endpoint_down(cfg: Config, emulator: Emulator):
    emulator.faults.inject("accessToken", Fault(status=503))
    code, lines = await doctor(cfg)
    assert code == 1 and failed(lines) == {"钉钉凭证"}
    assert "api.dingtalk.com" in lines["钉钉凭证"]


async def test_missing_send_permission(cfg: Config, emulator: Emulator):
    emulator.faults.inject("batchSend", DENIED)
    code, lines = await doctor(cfg)
    assert code == 1 and failed(lines) == {"权限 单聊发消息"}
    assert "qyapi_robot_sendmsg" in lines["权限 单聊发消息"]
    assert not emulator.ledger  # the dry calls sent nothing to anybody


async def test_oa_permission_probed_only_when_configured(cfg: Config, emulator: Emulator):
    with_oa = dataclasses.replace(cfg, approvals=dataclasses.replace(cfg.approvals, process_codes={"PROC-1": "其他"}))
    emulator.faults.inject("processInstances", DENIED)
    code, lines = await doctor(with_oa)
    assert code == 1 and failed(lines) == {"权限 读取审批实例"}
    code, lines = await doctor(cfg)
    assert code == 0 and "权限 读取审批实例" not in lines


async def test_stream_cannot_open(cfg: Config, emulator: Emulator):
    emulator.faults.inject("connections/open", Fault(status=500))
    code, lines = await doctor(cfg)
    assert code == 1 and failed(lines) == {"Stream 连接"}
    assert "Stream 模式" in lines["Stream 连接"]


async def test_clock_offset(cfg: Config, emulator: Emulator):
    emulator.faults.skew_clock(-300)  # DingTalk five minutes behind us: our clock is fast
    code, lines = await doctor(cfg)
    assert code == 1 and failed(lines) == {"服务器时钟"}
    assert re.search("快 30[01] 秒", lines["服务器时钟"])  # the Date header has whole seconds
    assert "timedatectl" in lines["服务器时钟"]


async def test_calendar_cliff_until_next_year_is_imported(cfg: Config, db: Database, tmp_path: Path):
    code, lines = await doctor(cfg, beijing("2026-11-02 10:00"))
    assert code == 1 and failed(lines) == {"节假日安排"}
    assert "2027 年尚未载入" in lines["节假日安排"] and "import holidays" in lines["节假日安排"]
    await import_file(db, "holidays", SAMPLE_2027)
    code, lines = await doctor(cfg, beijing("2026-11-02 10:00"))
    assert code == 0 and "明年" in lines["节假日安排"]


async def test_disk_space(cfg: Config):
    code, lines = await doctor(dataclasses.replace(cfg, storage=dataclasses.replace(cfg.storage,
                                                                                     min_free_mb=10**9)))
    assert code == 1 and failed(lines) == {"附件磁盘空间"}


async def test_database_not_upgraded(cfg: Config, tmp_path: Path):
    fresh = f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"
    (tmp_path / "new.db").touch(mode=0o600)  # an empty database file
    code, lines = await doctor(dataclasses.replace(cfg, database=dataclasses.replace(cfg.database, url=fresh)))
    assert code == 1 and "数据库版本" in failed(lines) and "db upgrade" in lines["数据库版本"]


async def test_database_unreachable(cfg: Config):
    url = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    code, lines = await doctor(dataclasses.replace(cfg, database=dataclasses.replace(cfg.database, url=url)))
    assert code == 1 and failed(lines) == {"数据库连接"}


async def test_database_file_readable_by_others(emulator: Emulator, tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'open.db'}"
    from bot.migrate import upgrade

    database = Database(url)
    await upgrade(database)
    await database.dispose()
    os.chmod(tmp_path / "open.db", 0o644)
    cfg = bot_config(emulator, url, tmp_path, storage={"min_free_mb": 1}, database={"url": url})
    code, lines = await doctor(cfg)
    assert code == 1 and failed(lines) == {"数据库文件权限"}
    assert "chmod 600" in lines["数据库文件权限"]


async def test_cli_reports_a_config_error_as_a_failed_check(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            restore_logging: None):
    config = tmp_path / "config.toml"
    config.write_text('[dingtalk]\nclient_id = "x"\nno_such_key = 1\n', encoding="utf-8")
    code = await asyncio.to_thread(main, ["-c", str(config), "doctor"])
    assert code == 1
    assert capsys.readouterr().out.startswith("✗ 配置：未知配置项 [dingtalk] no_such_key")


async def test_cli_missing_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                  restore_logging: None):
    monkeypatch.delenv("BOT_DINGTALK_CLIENT_SECRET", raising=False)
    config = tmp_path / "config.toml"
    config.write_text('[dingtalk]\nclient_id = "x"\napi_endpoint = "http://127.0.0.1:1"\n', encoding="utf-8")
    code = await asyncio.to_thread(main, ["-c", str(config), "doctor"])
    out = capsys.readouterr().out
    assert code == 1 and "✗ 配置：配置缺少 [dingtalk] client_secret" in out
    assert "✗ 数据库：数据库文件" in out and "不存在" in out  # never created, and doctor does not create it
    assert not (tmp_path / "bianban.db").exists()
