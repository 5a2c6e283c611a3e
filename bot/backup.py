"""`db backup FILE`, `db restore FILE` and `db copy --to URL` (docs/operations.md).

SQLite is backed up with SQLite's online backup API (sqlite3, in a thread), which is safe while the
bot runs and writes: the copy is one consistent snapshot, WAL included. PostgreSQL uses pg_dump /
pg_restore when they are installed, and otherwise prints the commands. `db copy` moves every row
of the configured database into an empty one (SQLite → PostgreSQL when an office outgrows one
process), then compares the row counts table by table.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table)
from bot.config import Config
from bot.db import Database

COPY_BATCH = 1000


class BackupError(Exception):
    """A problem the user must fix, phrased in one Chinese sentence."""


def sqlite_path(url: str) -> Path:
    return Path(url.split(":///", 1)[1])


# -- SQLite ------------------------------------------------------------------------------------------
def _check_sqlite_file(path: Path) -> str:
    """The Alembic revision of a SQLite database file after an integrity check."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"{path} 已损坏（integrity_check 未通过）")
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else ""
    except sqlite3.DatabaseError:
        raise BackupError(f"{path} 不是本机器人的数据库备份（或已损坏）") from None
    finally:
        conn.close()


def _sqlite_copy(src: Path, dest: Path, *, single_file: bool = False) -> None:
    source = sqlite3.connect(src, timeout=30)
    target = sqlite3.connect(dest, timeout=30)
    try:
        source.backup(target)
        if single_file:  # a backup is one self-contained file, not a WAL database with -wal/-shm beside it
            target.execute("PRAGMA journal_mode=DELETE")
    finally:
        target.close()
        source.close()


def _sqlite_backup(src: Path, dest: Path) -> str:
    if not src.exists():
        raise BackupError(f"找不到数据库文件 {src}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    part.unlink(missing_ok=True)
    _sqlite_copy(src, part, single_file=True)
    os.chmod(part, 0o600)
    revision = _check_sqlite_file(part)
    os.replace(part, dest)
    return revision


def _sqlite_restore(backup: Path, live: Path) -> str:
    if not backup.is_file():
        raise BackupError(f"找不到备份文件 {backup}")
    revision = _check_sqlite_file(backup)
    live.parent.mkdir(parents=True, exist_ok=True)
    _sqlite_copy(backup, live)  # page by page into the live file: its WAL and readers stay consistent
    return revision


# -- PostgreSQL --------------------------------------------------------------------------------------
def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password (it goes to PGPASSWORD, not the process list)."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return u.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


async def _run(*argv: str, env: dict[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(*argv, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    _out, err = await proc.communicate()
    if proc.returncode != 0:
        raise BackupError(f"{Path(argv[0]).name} 失败：{err.decode(errors='replace').strip()[:300]}")


def _pg_guidance(tool: str, file: Path) -> str:
    target = "postgresql://用户@主机:5432/库名"
    command = (f"pg_dump --format=custom --no-owner --file {file} --dbname {target}" if tool == "pg_dump" else
               f"pg_restore --clean --if-exists --no-owner --single-transaction --dbname {target} {file}")
    return (f"本机没有 {tool}。请安装 PostgreSQL 客户端（apt install postgresql-client），"
            f"或在数据库服务器上运行：\n  {command}")


def _size_mb(file: Path) -> float:
    return file.stat().st_size / 1048576


def _prepare_dump(file: Path) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)


def _finish_dump(file: Path) -> float:
    os.chmod(file, 0o600)
    return _size_mb(file)


# -- commands ----------------------------------------------------------------------------------------
async def backup(cfg: Config, file: Path) -> str:
    """Write a backup of the configured database to `file`; returns the line to print."""
    url = cfg.database.url
    if url.startswith("sqlite"):
        revision = await asyncio.to_thread(_sqlite_backup, sqlite_path(url), file)
        size = await asyncio.to_thread(_size_mb, file)
        return f"已备份到 {file}（{size:.1f} MB，数据库版本 {revision}）。附件目录 {cfg.storage_dir} 请一并备份"
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError(_pg_guidance("pg_dump", file))
    libpq, env = _libpq(url)
    await asyncio.to_thread(_prepare_dump, file)
    await _run(pg_dump, "--format=custom", "--no-owner", f"--file={file}", f"--dbname={libpq}", env=env)
    size = await asyncio.to_thread(_finish_dump, file)
    return f"已用 pg_dump 备份到 {file}（{size:.1f} MB）。附件目录 {cfg.storage_dir} 请一并备份"


async def restore(cfg: Config, file: Path) -> str:
    """Replace the configured database by the backup in `file` (the bot must be stopped)."""
    url = cfg.database.url
    if url.startswith("sqlite"):
        revision = await asyncio.to_thread(_sqlite_restore, file, sqlite_path(url))
        return f"已从 {file} 恢复（数据库版本 {revision}）。如提示版本不是最新，请运行 db upgrade，然后启动机器人"
    pg_restore = shutil.which("pg_restore")
    if pg_restore is None:
        raise BackupError(_pg_guidance("pg_restore", file))
    if not await asyncio.to_thread(file.is_file):
        raise BackupError(f"找不到备份文件 {file}")
    libpq, env = _libpq(url)
    await _run(pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction", f"--dbname={libpq}",
               str(file), env=env)
    return f"已用 pg_restore 从 {file} 恢复。然后启动机器人"


@dataclass
class CopiedTable:
    name: str
    source: int
    target: int


async def copy_database(source: Database, target: Database) -> list[CopiedTable]:
    """Copy every row of `source` (at the newest migration) into `target`, which must hold no data."""
    from bot.migrate import is_current, upgrade

    if not await is_current(source):
        raise BackupError("源数据库不是最新版本，请先运行 db upgrade")
    await upgrade(target)
    tables = list(SQLModel.metadata.sorted_tables)  # parents before children
    async with target.engine.connect() as conn:
        for table in tables:
            if (await conn.execute(select(func.count()).select_from(table))).scalar():
                raise BackupError(f"目标数据库的表 {table.name} 已有数据；db copy 只能复制到空数据库")
    async with source.engine.connect() as src, target.engine.begin() as dst:
        for table in tables:
            await _copy_table(src, dst, table)
        if target.engine.dialect.name == "postgresql":
            for table in tables:
                await _reset_sequence(dst, table)
    report = []
    async with source.engine.connect() as src, target.engine.connect() as dst:
        for table in tables:
            count = select(func.count()).select_from(table)
            report.append(CopiedTable(table.name, (await src.execute(count)).scalar() or 0,
                                      (await dst.execute(count)).scalar() or 0))
    return report


async def _copy_table(src, dst, table: Table) -> None:
    order = list(table.primary_key.columns)
    result = await src.stream(select(table).order_by(*order))
    async for chunk in result.mappings().partitions(COPY_BATCH):
        await dst.execute(insert(table), [dict(row) for row in chunk])


async def _reset_sequence(dst, table: Table) -> None:
    pk = list(table.primary_key.columns)
    try:
        integer = len(pk) == 1 and pk[0].type.python_type is int
    except NotImplementedError:
        integer = False
    if not integer:
        return
    name, column = table.name, pk[0].name
    seq = (await dst.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": name, "c": column})).scalar()
    if seq:
        await dst.execute(text(f'SELECT setval(:s, COALESCE((SELECT MAX("{column}") FROM "{name}"), 0) + 1, false)'),
                          {"s": seq})


async def copy_to(cfg: Config, url: str) -> tuple[list[CopiedTable], str]:
    if not url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        raise BackupError("--to 应以 postgresql+asyncpg:// 或 sqlite+aiosqlite:// 开头")
    if url == cfg.database.url:
        raise BackupError("--to 与当前数据库相同")
    source, target = Database(cfg.database.url), Database(url)
    try:
        report = await copy_database(source, target)
    finally:
        await source.dispose()
        await target.dispose()
    return report, make_url(url).render_as_string(hide_password=True)


async def db_command(cfg: Config, action: str, file: Path | None, to: str | None) -> int:
    """`db backup FILE` / `db restore FILE` / `db copy --to URL`: print the result, 0 on success."""
    import sys

    try:
        if action in ("backup", "restore"):
            if file is None:
                raise BackupError(f"请给出备份文件：python -m bot -c config.toml db {action} 文件")
            print(await (backup(cfg, file) if action == "backup" else restore(cfg, file)))
            return 0
        if not to:
            raise BackupError("请用 --to 给出目标数据库，如 --to postgresql+asyncpg://用户:密码@主机/库")
        report, shown = await copy_to(cfg, to)
    except BackupError as e:
        print(str(e), file=sys.stderr)
        return 1
    for row in report:
        mark = "✓" if row.source == row.target else "✗"
        print(f"{mark} {row.name}：{row.source} → {row.target} 行")
    bad = [r.name for r in report if r.source != r.target]
    if bad:
        print(f"行数不一致：{'、'.join(bad)}", file=sys.stderr)
        return 1
    total = sum(r.source for r in report)
    print(f"已复制 {len(report)} 张表共 {total} 行到 {shown}，行数一致。"
          f"请把配置 [database] url 改为新库，再运行 doctor 检查")
    return 0
