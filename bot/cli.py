"""`python -m bot [-c CONFIG] run | import KIND FILE | db upgrade | demo`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot.config import Config, ConfigError, load_config
from bot.db import Database


class RedactSecrets(logging.Filter):
    """Replace configured secret values in every log record (they must never reach a log)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            if any(s in text for s in self.secrets):
                for s in self.secrets:
                    text = text.replace(s, "***")
                record.msg, record.args = text, None
        return True


def setup_logging(cfg: Config | None, level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    if cfg is not None and cfg.logging.format == "json":
        from bot.logs import JsonFormatter

        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if cfg is not None:
        handler.addFilter(RedactSecrets([cfg.dingtalk.client_secret, cfg.server.api_token,
                                         _db_password(cfg.database.url)]))
    logging.basicConfig(level=(cfg.bot.log_level if cfg else level).upper(), handlers=[handler], force=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def _db_password(url: str) -> str:
    if "://" in url and "@" in url:
        creds = url.split("://", 1)[1].split("@", 1)[0]
        return creds.split(":", 1)[1] if ":" in creds else ""
    return ""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bianban-bot")
    except PackageNotFoundError:
        return "未安装（源码目录）"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot", description="编办监督助手")
    p.add_argument("-c", "--config", help="配置文件（TOML），参见 config.example.toml")
    p.add_argument("--version", action="version", version=f"编办监督助手 {_version()}", help="显示版本号")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="连接钉钉（Stream 模式）运行机器人")
    imp = sub.add_parser("import", help="导入 CSV/XLSX 文件")
    imp.add_argument("kind", help="units / accounts / persons / holidays / problems / approvals / groups")
    imp.add_argument("file", type=Path)
    sub.add_parser("doctor", help="检查部署：配置、数据库、钉钉凭证与权限、Stream、节假日、磁盘、时钟")
    db = sub.add_parser("db", help="数据库：upgrade 升级 / backup 备份 / restore 恢复 / copy 复制到另一个数据库")
    db.add_argument("action", choices=["upgrade", "backup", "restore", "copy"])
    db.add_argument("file", type=Path, nargs="?", help="backup / restore 的备份文件")
    db.add_argument("--to", help="copy 的目标数据库，如 postgresql+asyncpg://用户:密码@主机/库")
    demo = sub.add_parser("demo", help="本地演示：模拟钉钉 + 示例县数据 + 聊天页面")
    demo.add_argument("--port", type=int, default=8700, help="聊天页面端口（默认 8700）")
    demo.add_argument("--data", type=Path, default=Path("demo-data"), help="演示数据目录")
    return p


async def _import(cfg: Config, kind: str, file: Path) -> int:
    from bot.importing import ImportRejected, import_file
    from bot.migrate import upgrade

    db = Database(cfg.database.url)
    try:
        await upgrade(db)
        result = await import_file(db, kind, file)
        if kind in ("persons", "units"):
            print(await _scan_after_import(cfg, db, getattr(result, "unit_ids", None)))
    except ImportRejected as e:
        print("导入失败，文件中的内容均未写入：", file=sys.stderr)
        for line in e.lines:
            print(line, file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    for warning in result.warnings:
        print(f"提示：{warning}")
    print(result.summary())
    return 0


async def _scan_after_import(cfg: Config, db: Database, unit_ids: set[int] | None) -> str:
    """预警 runs after every import of 实名制 data, only for the units the file touched."""
    from bot.context import Services
    from bot.render import Renderer
    from bot.router import Router
    from jobs.warnings import scan_warnings

    services = Services(db=db, renderer=Renderer(), router=Router(), config=cfg, rules=cfg.rectification.rules())
    s = await scan_warnings(services, unit_ids=sorted(unit_ids) if unit_ids is not None else None)
    return f"预警扫描：新增 {s.new}，加重 {s.worse}，解除 {s.resolved}（通知已交给机器人发送）"


async def _upgrade(cfg: Config) -> int:
    from bot.migrate import upgrade

    db = Database(cfg.database.url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()
    print("数据库已升级到最新版本")
    return 0


async def _run(cfg: Config) -> int:
    from bot.app import run_forever
    from bot.migrate import is_current

    cfg.require_dingtalk()
    db = Database(cfg.database.url)
    try:
        current = await is_current(db)
    finally:
        await db.dispose()
    if not current:
        print("数据库结构不是最新版本，请先运行：python -m bot -c 配置文件 db upgrade", file=sys.stderr)
        return 1
    await run_forever(cfg)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from bot.demo import run_demo

            setup_logging(None, "WARNING")
            return asyncio.run(run_demo(args.data, args.port))
        cfg = load_config(args.config)
        if args.command == "doctor":
            from bot.doctor import run_doctor

            setup_logging(cfg)
            logging.getLogger("alembic").setLevel(logging.WARNING)
            return asyncio.run(run_doctor(cfg))
        if args.command == "run":
            cfg.require_dingtalk()
        setup_logging(cfg)
    except ConfigError as e:
        if args.command == "doctor":
            print(f"✗ 配置：{e}　→ 按提示修改配置文件（每项说明见 config.example.toml）")
            return 1
        print(f"配置错误：{e}", file=sys.stderr)
        return 2
    try:
        if args.command == "import":
            return asyncio.run(_import(cfg, args.kind, args.file))
        if args.command == "db" and args.action != "upgrade":
            from bot.backup import db_command

            return asyncio.run(db_command(cfg, args.action, args.file, args.to))
        if args.command == "db":
            return asyncio.run(_upgrade(cfg))
        return asyncio.run(_run(cfg))
    except ConfigError as e:
        print(f"配置错误：{e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
