"""`python -m bot [-c CONFIG] run | import KIND FILE | db upgrade | demo`.

Part of the composition root (with bot/app.py): it may import handlers/ and jobs/.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

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
    logging.getLogger("alembic").setLevel(logging.WARNING)  # no English INFO lines on every import


def _db_password(url: str) -> str:
    if "://" in url and "@" in url:
        creds = url.split("://", 1)[1].split("@", 1)[0]
        return creds.split(":", 1)[1] if ":" in creds else ""
    return ""


DEFAULT_CONFIG = Path("config.toml")  # used when -c is not given (in the current folder)

_ARGPARSE_ZH = [  # argparse's own English messages → Chinese
    (re.compile(r"the following arguments are required: (.+)"), r"缺少参数：\1"),
    (re.compile(r"argument (\S+): invalid choice: (.+?) \(choose from (.+)\)"), r"参数 \1 不能是 \2（可选：\3）"),
    (re.compile(r"argument (\S+): invalid (\w+) value: (.+)"), r"参数 \1 的值 \3 无效"),
    (re.compile(r"argument (\S+): expected one argument"), r"参数 \1 后面需要一个值"),
    (re.compile(r"unrecognized arguments: (.+)"), r"无法识别的参数：\1"),
]


class _Formatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)


class _Parser(argparse.ArgumentParser):
    """argparse with Chinese headings, help and errors (everything a user sees is Chinese)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.update(add_help=False, formatter_class=_Formatter)
        super().__init__(*args, **kwargs)
        self._positionals.title, self._optionals.title = "参数", "选项"
        self.add_argument("-h", "--help", action="help", help="显示本帮助并退出")

    def format_help(self) -> str:
        return re.sub(r"^(\S[^\n]*):$", r"\1：", super().format_help(), flags=re.MULTILINE)  # 选项：

    def error(self, message: str) -> NoReturn:
        for pattern, chinese in _ARGPARSE_ZH:
            message = pattern.sub(chinese, message)
        self.print_usage(sys.stderr)
        self.exit(2, f"错误：{message}\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bianban-bot")
    except PackageNotFoundError:
        return "未安装（源码目录）"


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m bot", description="编办监督助手：钉钉机器人与数据导入工具")
    p.add_argument("-c", "--config", metavar="配置文件",
                   help=f"配置文件（TOML，参见 config.example.toml）；不写时使用当前目录下的 {DEFAULT_CONFIG}")
    p.add_argument("--version", action="version", version=f"编办监督助手 {_version()}", help="显示版本号并退出")
    sub = p.add_subparsers(dest="command", required=True, metavar="命令", parser_class=_Parser)
    sub.add_parser("run", help="连接钉钉（Stream 模式）运行机器人", description="连接钉钉（Stream 模式）运行机器人")
    imp = sub.add_parser("import", help="导入 CSV/XLSX 文件",
                         description="导入 CSV/XLSX 文件，格式见 docs/import-formats.md")
    imp.add_argument("kind", metavar="类型", choices=KINDS,
                     help="units（单位）、accounts（账号）、persons（实名制人员）、holidays（节假日）、"
                          "problems（问题台账）、approvals（审批事项）、groups（走访分组）")
    imp.add_argument("file", type=Path, metavar="文件", help="CSV（UTF-8 或 GBK）或 XLSX 文件")
    sub.add_parser("doctor", help="检查部署：配置、数据库、钉钉凭证与权限、Stream、节假日、磁盘、时钟",
                   description="逐项检查部署，每项一行 ✓/✗ 和改正方法；有 ✗ 时退出码非 0")
    db = sub.add_parser("db", help="数据库：升级、备份、恢复、复制",
                        description="数据库：upgrade 建库或升级到最新结构；backup 备份到文件；restore 从备份恢复；"
                                    "copy 复制到另一个数据库（如从 SQLite 迁到 PostgreSQL）")
    db.add_argument("action", choices=["upgrade", "backup", "restore", "copy"], metavar="操作",
                    help="upgrade / backup / restore / copy")
    db.add_argument("file", type=Path, nargs="?", metavar="文件", help="backup / restore 的备份文件")
    db.add_argument("--to", metavar="目标", help="copy 的目标数据库，如 postgresql+asyncpg://用户:密码@主机/库")
    demo = sub.add_parser("demo", help="本地演示：模拟钉钉 + 示例县数据 + 聊天页面",
                          description="本地演示：模拟钉钉 + 示例县数据 + 聊天页面")
    demo.add_argument("--port", type=int, default=8700, metavar="端口", help="聊天页面端口（默认 8700）")
    demo.add_argument("--data", type=Path, default=Path("demo-data"), metavar="目录",
                      help="演示数据目录（默认 demo-data）")
    return p


KINDS = ("units", "accounts", "persons", "holidays", "problems", "approvals", "groups")


def database_label(url: str) -> str:
    """Where a command wrote, for the user: the SQLite file, or the server URL without its password."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite 文件 {Path(parsed.database or '').resolve()}"
    return f"PostgreSQL {parsed.render_as_string(hide_password=True)}"


def config_path(given: str | None) -> str:
    """-c, else ./config.toml; without either, stop with a line that says what to do."""
    if given:
        return given
    if DEFAULT_CONFIG.is_file():
        return str(DEFAULT_CONFIG)
    raise ConfigError(f"没有指定配置文件：请用 -c 配置文件，或在当前目录放一个 {DEFAULT_CONFIG}"
                      "（可复制 config.example.toml 修改）")


async def _import(cfg: Config, kind: str, file: Path) -> int:
    from bot.app import import_file
    from bot.importing import ImportRejected
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
    print(f"数据库：{database_label(cfg.database.url)}")
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
    print(f"数据库已升级到最新版本：{database_label(cfg.database.url)}")
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
        print(f"数据库结构不是最新版本（{database_label(cfg.database.url)}），请先运行："
              "python -m bot -c 配置文件 db upgrade", file=sys.stderr)
        return 1
    print(f"数据库：{database_label(cfg.database.url)}", flush=True)
    await run_forever(cfg)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from bot.demo import run_demo

            setup_logging(None, "WARNING")
            return asyncio.run(run_demo(args.data, args.port))
        cfg = load_config(config_path(args.config))
        if args.command == "doctor":
            from bot.doctor import run_doctor

            setup_logging(cfg)
            logging.getLogger("alembic").setLevel(logging.WARNING)
            return asyncio.run(run_doctor(cfg))
        if args.command == "run":
            cfg.require_dingtalk()
        setup_logging(cfg)
        if args.command != "run":  # import and db print their own (Chinese) results; logs only problems
            logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
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
