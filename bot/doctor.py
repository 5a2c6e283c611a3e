"""`python -m bot -c config.toml doctor`: check a deployment, one line per check with ✓/✗ and the fix.

Every check is read-only. The DingTalk checks make "dry" calls: each API the bot uses is called with
parameters DingTalk must refuse (no recipients, an unknown download code…), so nothing is sent, but a
missing permission still answers 403 AccessDenied before the parameters are looked at.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import websockets
import websockets.exceptions
from dingtalk_stream import Credential
from sqlalchemy import text

from bot.config import Config, ConfigError
from bot.db import Database
from bot.dingtalk_api import DingTalkAPI, DingTalkError
from models.base import utcnow
from models.calendar.coverage import cliff_advice, cliff_year, missing_years
from models.calendar.workdays import load_calendar
from models.rectification.rules import local_today

MAX_CLOCK_OFFSET = 30.0  # seconds; DingTalk rejects signed requests and stream tickets beyond a few minutes
SEND_PERMISSION = "企业内机器人发送消息权限（qyapi_robot_sendmsg）"


@dataclass
class Check:
    ok: bool
    name: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "✓" if self.ok else "✗"
        fix = f"　→ {self.fix}" if self.fix and not self.ok else ""
        return f"{mark} {self.name}：{self.detail}{fix}"


class Doctor:
    def __init__(self, cfg: Config, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.cfg = cfg
        self.clock = clock
        self.checks: list[Check] = []

    def add(self, ok: bool, name: str, detail: str, fix: str = "") -> bool:
        self.checks.append(Check(ok, name, detail, fix))
        return ok

    async def run(self) -> list[Check]:
        cfg = self.cfg
        try:
            cfg.require_dingtalk()
            self.add(True, "配置", "配置文件有效，钉钉凭证已填写")
            dingtalk = True
        except ConfigError as e:
            self.add(False, "配置", str(e), "在配置文件或环境变量中填写后重试")
            dingtalk = False
        url = cfg.database.url
        if url.startswith("sqlite") and not await asyncio.to_thread(Path(url.split(":///", 1)[-1]).exists):
            self.add(False, "数据库", f"数据库文件 {url.split(':///', 1)[-1]} 不存在",
                     "运行 python -m bot -c config.toml db upgrade 建库（doctor 不会自动建库）")
        else:
            db = Database(url)
            try:
                await self._database(db)
            finally:
                await db.dispose()
        if dingtalk:
            http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=cfg.dingtalk.http_timeout),
                                         trust_env=False)
            try:
                await self._dingtalk(http)
            finally:
                await http.close()
        self._disk()
        return self.checks

    # -- database ------------------------------------------------------------------------------------
    async def _database(self, db: Database) -> None:
        from bot.migrate import is_current

        if not await db.ping():
            where = "SQLite 文件" if db.is_sqlite else "PostgreSQL 服务"
            self.add(False, "数据库连接", "无法连接数据库",
                     f"检查 [database] url（或 BOT_DATABASE_URL）和{where}是否可用")
            return
        self.add(True, "数据库连接", "正常")
        try:
            current = await is_current(db)
        except Exception as e:  # an unknown revision (a newer release's database)
            current, note = False, f"无法读取版本：{e}"
        else:
            note = "不是最新版本"
        if self.add(current, "数据库版本", "最新" if current else note,
                    "先备份（db backup），再运行 python -m bot -c config.toml db upgrade"):
            await self._calendar(db)
        if db.is_sqlite:
            await self._sqlite(db)

    async def _sqlite(self, db: Database) -> None:
        async with db.engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
        self.add(str(mode).lower() == "wal", "SQLite 日志模式", f"{mode}",
                 "数据库文件须放在本机磁盘上（不要放在 NFS/SMB 共享目录），WAL 模式才能生效")
        path = Path(db.url.split(":///", 1)[-1])
        problems = []
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if p.exists():
                mode_bits = p.stat().st_mode
                if mode_bits & (stat.S_IRWXG | stat.S_IRWXO) & ~stat.S_IRGRP:
                    problems.append(f"{p.name} 权限 {stat.filemode(mode_bits)}")
                if not os.access(p, os.R_OK | os.W_OK):
                    problems.append(f"{p.name} 不可读写")
        if not os.access(path.parent, os.W_OK):
            problems.append(f"目录 {path.parent} 不可写（WAL 需要在同目录建文件）")
        self.add(not problems, "数据库文件权限", "；".join(problems) or "仅运行用户可写，其他用户不可读",
                 f"chown 运行用户 {path.parent} {path}*，chmod 600 {path}*（文件含身份证号等个人信息）")

    async def _calendar(self, db: Database) -> None:
        today = local_today(self.clock())
        cal = await load_calendar(db)
        missing = missing_years(cal, today)
        if not missing:
            self.add(True, "节假日安排", f"已覆盖今天起 60 天{'及明年' if today.month >= 11 else ''}")
            return
        year = cliff_year(cal, today) or missing[-1]
        years = "、".join(str(y) for y in missing)
        self.add(False, "节假日安排", f"{years} 年尚未载入官方安排", cliff_advice(year))

    # -- DingTalk ------------------------------------------------------------------------------------
    async def _dingtalk(self, http: aiohttp.ClientSession) -> None:
        api = DingTalkAPI(self.cfg.dingtalk, http)
        try:
            await api.access_token(force=True)
        except DingTalkError as e:
            self.add(False, "钉钉凭证", f"获取 access token 失败（{e}）",
                     "核对 [dingtalk] client_id 与 client_secret（开发者后台 → 凭证与基础信息）"
                     if e.status and e.status < 500 else "检查服务器能否访问 api.dingtalk.com:443")
            return
        self.add(True, "钉钉凭证", "access token 获取成功")
        await self._clock(http)
        await self._permissions(api)
        await self._stream(http)

    async def _permissions(self, api: DingTalkAPI) -> None:
        robot = self.cfg.dingtalk.robot
        probes: list[tuple[str, str, Callable[[], Awaitable[Any]]]] = [
            ("单聊发消息", SEND_PERMISSION, lambda: api.dry_call(
                "POST", "/v1.0/robot/oToMessages/batchSend",
                json={"robotCode": robot, "userIds": [], "msgKey": "sampleText", "msgParam": "{}"})),
            ("群聊发消息", SEND_PERMISSION, lambda: api.dry_call(
                "POST", "/v1.0/robot/groupMessages/send",
                json={"robotCode": robot, "openConversationId": "", "msgKey": "sampleText", "msgParam": "{}"})),
            ("下载用户发来的文件", "机器人消息文件下载权限", lambda: api.dry_call(
                "POST", "/v1.0/robot/messageFiles/download", json={"robotCode": robot, "downloadCode": "doctor"})),
            ("上传文件（导出 Excel）", "旧版接口 gettoken（应用凭证）", lambda: api.oapi_token(force=True)),
        ]
        if self.cfg.approvals.process_codes:
            probes.append(("读取审批实例", "审批实例读取权限（OA 审批）", lambda: api.dry_call(
                "GET", "/v1.0/workflow/processInstances", params={"processInstanceId": "doctor"})))
        for name, permission, call in probes:
            try:
                await call()
            except DingTalkError as e:
                if "AccessDenied" in e.code or e.status in (401, 403):
                    self.add(False, f"权限 {name}", f"未开通（{e.code or e.status}）",
                             f"开发者后台 → 权限管理 开通“{permission}”，然后发布新版本")
                    continue
                if e.status == 400 or (e.code and not e.retryable):  # parameters refused: permission granted
                    self.add(True, f"权限 {name}", "已开通")
                    continue
                self.add(False, f"权限 {name}", f"无法确认（{e}）", "稍后重试；持续失败时检查网络和钉钉服务状态")
                continue
            self.add(True, f"权限 {name}", "已开通")

    async def _stream(self, http: aiohttp.ClientSession) -> None:
        from bot.stream import StreamClient

        cfg = self.cfg.dingtalk
        client = StreamClient(Credential(cfg.client_id, cfg.client_secret), api_endpoint=cfg.api_endpoint,
                              http=http, http_timeout=cfg.http_timeout)
        client.register_bot_handler(_ignore)
        try:
            connection = await client.open_connection_async()
            uri = f"{connection['endpoint']}?ticket={quote_plus(connection['ticket'])}"
            async with asyncio.timeout(cfg.http_timeout), websockets.connect(uri, proxy=None):
                pass
        except Exception as e:
            self.add(False, "Stream 连接", f"无法建立（{type(e).__name__}: {str(e)[:120]}）",
                     "开发者后台 → 机器人 → 消息接收模式选 Stream 模式并发布；防火墙放行 443 出站"
                     "（wss-open-connection*.dingtalk.com，域名可能变化，不要按 IP 放行）")
            return
        self.add(True, "Stream 连接", "可以建立")

    async def _clock(self, http: aiohttp.ClientSession) -> None:
        url = self.cfg.dingtalk.api_endpoint.rstrip("/") + "/"
        try:
            before = time.time()
            async with http.get(url) as resp:
                header = resp.headers.get("Date", "")
            local = (before + time.time()) / 2
            server = parsedate_to_datetime(header).timestamp()
        except (aiohttp.ClientError, TimeoutError, TypeError, ValueError) as e:
            self.add(False, "服务器时钟", f"无法读取钉钉服务器时间（{type(e).__name__}）", "检查网络后重试")
            return
        offset = local - server
        ok = abs(offset) <= MAX_CLOCK_OFFSET
        where = "快" if offset > 0 else "慢"
        self.add(ok, "服务器时钟", f"比钉钉服务器{where} {abs(offset):.0f} 秒",
                 "启用时间同步：timedatectl set-ntp true（政务外网可指向单位内部 NTP 服务器）")

    # -- disk ----------------------------------------------------------------------------------------
    def _disk(self) -> None:
        folder = self.cfg.storage_dir
        probe = folder
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free_mb = shutil.disk_usage(probe).free // (1024 * 1024)
        need = self.cfg.storage.min_free_mb
        ok = free_mb >= need and (not folder.exists() or os.access(folder, os.W_OK))
        detail = f"{folder} 所在磁盘剩余 {free_mb} MB（要求至少 {need} MB）"
        if folder.exists() and not os.access(folder, os.W_OK):
            detail += "，目录不可写"
        self.add(ok, "附件磁盘空间", detail, "清理磁盘或把 [storage] dir 改到空间充足的分区，并让运行用户可写")


async def _ignore(*_args: Any) -> None:
    return None


async def run_doctor(cfg: Config, *, clock: Callable[[], datetime] = utcnow, out: Any = None) -> int:
    """Print every check; 0 when all pass, 1 otherwise."""
    checks = await Doctor(cfg, clock=clock).run()
    for check in checks:
        print(check.line(), file=out)
    failed = sum(not c.ok for c in checks)
    print(f"共 {len(checks)} 项检查，{failed} 项未通过" if failed else f"共 {len(checks)} 项检查，全部通过", file=out)
    return 1 if failed else 0
