"""Configuration errors name the key; the CLI imports files and upgrades the database; secrets stay out of logs."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import inspect
from sqlmodel import SQLModel

from bot.cli import RedactSecrets, setup_logging
from bot.config import ConfigError, load_config
from bot.importing.fields import make_uscc

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_example_config_loads_and_documents_every_key(tmp_path):
    cfg = load_config(ROOT / "config.example.toml", env={})
    assert cfg.dingtalk.api_endpoint == "https://api.dingtalk.com"
    assert cfg.dingtalk.oapi_endpoint == "https://oapi.dingtalk.com"
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    import dataclasses

    for section in ("dingtalk", "database", "server", "bot", "outbox", "storage", "rectification", "approvals"):
        for f in dataclasses.fields(getattr(cfg, section)):
            assert f"{f.name} =" in example or f"# {f.name} =" in example, (section, f.name)


@pytest.mark.parametrize("text, key", [
    ("[dingtalk]\nclient_id = 'a'\nclient_secret = 'b'\nwebhook = 'x'\n", "[dingtalk] webhook"),
    ("[server]\nport = 'eighty'\n", "[server] port"),
    ("[server]\nport = 70000\n", "[server] port"),
    ("[dingtalk]\napi_endpoint = 'api.dingtalk.com'\n", "[dingtalk] api_endpoint"),
    ("[database]\nurl = 'mysql://x'\n", "[database] url"),
    ("[robot]\nx = 1\n", "[robot]"),
    ("[rectification]\nsend_at = '9点'\n", "[rectification] send_at"),
    ("[rectification]\nremind_before = 5\n", "[rectification] remind_before"),
])
def test_wrong_keys_are_named(tmp_path, text, key):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text), env={})
    assert key in str(e.value) and "\n" not in str(e.value)


def test_run_needs_credentials_and_says_which(tmp_path):
    cfg = load_config(write(tmp_path, "[dingtalk]\nclient_id = 'a'\n"), env={})
    with pytest.raises(ConfigError, match=r"\[dingtalk\] client_secret"):
        cfg.require_dingtalk()


def test_secret_from_environment(tmp_path):
    cfg = load_config(write(tmp_path, "[dingtalk]\nclient_id = 'a'\n"), env={"BOT_DINGTALK_CLIENT_SECRET": "s3cret"})
    assert cfg.dingtalk.client_secret == "s3cret"
    assert "s3cret" not in repr(cfg)
    assert cfg.database.url.endswith("bianban.db")  # default: beside the config


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})


def test_cli_missing_key_stops_with_one_line(tmp_path):
    cfg = write(tmp_path, "[dingtalk]\nclient_id = 'a'\n")
    out = run_cli("-c", str(cfg), "run", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "[dingtalk] client_secret" in out.stderr


def test_cli_db_upgrade_and_import(tmp_path):
    cfg = write(tmp_path, f"[database]\nurl = 'sqlite+aiosqlite:///{tmp_path / 'x.db'}'\n")
    assert run_cli("-c", str(cfg), "db", "upgrade", cwd=tmp_path).returncode == 0
    ok = run_cli("-c", str(cfg), "import", "units", str(ROOT / "bot/demo/units.csv"), cwd=tmp_path)
    assert ok.returncode == 0 and "新增 31" in ok.stdout, ok.stderr
    again = run_cli("-c", str(cfg), "import", "units", str(ROOT / "bot/demo/units.csv"), cwd=tmp_path)
    assert "新增 0，更新 0，未变 31" in again.stdout
    bad = tmp_path / "bad.csv"
    good = make_uscc("11331099MB0000091")
    bad.write_text(f"单位名称,统一社会信用代码,单位类别\n甲局,{good},党政机关\n乙局,123,机关\n", encoding="utf-8")
    out = run_cli("-c", str(cfg), "import", "units", str(bad), cwd=tmp_path)
    assert out.returncode == 1
    assert "第3行 统一社会信用代码" in out.stderr and "第3行 单位类别" in out.stderr
    assert "未写入" in out.stderr


def test_secrets_never_reach_the_log(tmp_path, capsys):
    cfg = load_config(write(tmp_path, "[dingtalk]\nclient_id='a'\nclient_secret='topsecret-123'\n"), env={})
    setup_logging(cfg)
    logging.getLogger("t").warning("token call failed for %s", "appSecret=topsecret-123")
    err = capsys.readouterr().err
    assert "topsecret-123" not in err and "appSecret=***" in err
    assert RedactSecrets(["abcd"]).filter(logging.makeLogRecord({"msg": "x abcd"}))


async def test_migrations_create_every_table(db):
    async with db.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert set(SQLModel.metadata.tables) <= tables


async def test_migrations_match_the_models(db):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    async with db.engine.connect() as conn:
        diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), SQLModel.metadata))
    assert diff == []


async def test_healthz_reports_database_and_stream(bot):
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{bot.port}/healthz") as resp:
        assert resp.status == 200
        assert await resp.json() == {"database": True, "stream": True}


def test_cli_import_persons_runs_the_warning_scan(tmp_path):
    cfg = write(tmp_path, f"[database]\nurl = 'sqlite+aiosqlite:///{tmp_path / 'p.db'}'\n")
    for kind in ("units", "accounts"):
        assert run_cli("-c", str(cfg), "import", kind, str(ROOT / f"bot/demo/{kind}.csv"), cwd=tmp_path).returncode == 0
    out = run_cli("-c", str(cfg), "import", "persons", str(ROOT / "bot/demo/persons.csv"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "人员导入完成" in out.stdout and "预警扫描：新增" in out.stdout
    again = run_cli("-c", str(cfg), "import", "persons", str(ROOT / "bot/demo/persons.csv"), cwd=tmp_path)
    assert "预警扫描：新增 0，加重 0，解除 0" in again.stdout


# --- issue 10: everything a user sees is Chinese; no silent database ------------------------------------

def test_cli_help_and_errors_are_chinese(tmp_path):
    for args in (("--help",), ("import", "--help"), ("db", "-h")):
        out = run_cli(*args, cwd=tmp_path)
        assert out.returncode == 0 and "用法：python -m bot" in out.stdout
        assert not any(word in out.stdout for word in ("usage:", "options:", "positional arguments", "show this"))
        assert "选项：" in out.stdout and "选项:" not in out.stdout
    wrong = run_cli("-c", "x.toml", "import", "people", "a.csv", cwd=tmp_path)
    assert wrong.returncode == 2 and "错误：参数 类型 不能是 'people'" in wrong.stderr and "error" not in wrong.stderr
    missing = run_cli(cwd=tmp_path)
    assert "错误：缺少参数：命令" in missing.stderr and "required" not in missing.stderr


def test_without_c_the_default_config_is_used_or_the_command_refuses(tmp_path):
    out = run_cli("import", "groups", str(ROOT / "bot/demo/groups.csv"), cwd=tmp_path)
    assert out.returncode == 2 and "没有指定配置文件" in out.stderr and "config.toml" in out.stderr
    assert not list(tmp_path.iterdir())  # no bianban.db appeared anywhere
    (tmp_path / "config.toml").write_text("[bot]\nlog_level = 'INFO'\n", encoding="utf-8")
    up = run_cli("db", "upgrade", cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    assert f"数据库已升级到最新版本：SQLite 文件 {tmp_path.resolve() / 'bianban.db'}" in up.stdout
    imported = run_cli("import", "units", str(ROOT / "bot/demo/units.csv"), cwd=tmp_path)
    assert imported.returncode == 0 and f"数据库：SQLite 文件 {tmp_path.resolve() / 'bianban.db'}" in imported.stdout
    assert "INFO" not in imported.stderr and "alembic" not in imported.stderr  # no English migration chatter


def test_config_type_errors_name_the_type_in_chinese(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "[server]\nport = 'eighty'\n"), env={})
    assert str(e.value) == '配置项 [server] port 类型错误：应为整数（如 8080），实际为 "eighty"'
    with pytest.raises(ConfigError, match="应为 true 或 false"):
        load_config(write(tmp_path, "[rectification]\nquiet_on_rest_days = 1\n"), env={})


def test_example_config_comments_are_chinese():
    import re

    for line in (ROOT / "config.example.toml").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") and not line.startswith("#   "):  # "#   url = ..." lines are examples
            assert re.search(r"[\u4e00-\u9fff]", line), line
