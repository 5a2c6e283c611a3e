"""`make demo`: the emulator, the fictional county 示例县 and the bot, on this machine.

The demo database is rebuilt on every start (demo-data/bianban.db) from the CSV files beside
this module, through the same import code offices use.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import date, datetime
from pathlib import Path

from sqlmodel import select

from bot.config import Config, DashboardConfig, DatabaseConfig, DingTalkConfig, RectificationConfig, ServerConfig
from bot.db import Database
from bot.emulator import Emulator
from bot.emulator.chat import attach_chat
from bot.importing import import_file
from bot.migrate import upgrade
from models import Account, Unit
from models.accounts.roles import ROLE_LABELS, Role
from models.base import LOCAL_TZ, utcnow

HERE = Path(__file__).resolve().parent
CLIENT_ID, CLIENT_SECRET = "demo-app", "demo-secret"
CORP_ID = "dingemucorp"  # the emulator's corpId (免登 checks it)


async def load_demo_data(db: Database) -> list[str]:
    """Schema and 示例县 units and accounts (what the tests use); returns the import summaries."""
    await upgrade(db)
    results = [await import_file(db, "units", HERE / "units.csv"),
               await import_file(db, "accounts", HERE / "accounts.csv")]
    return [r.summary() for r in results]


async def load_demo_extras(db: Database, today: date | None = None) -> list[str]:
    """For `make demo` (and the README test): 实名制 persons, the 2027 holiday example, the visit groups,
    approval items with their timelines (dated back from `today`, default today in Beijing) and the 监管评价
    indicators (12 共性, 6 关联, 5 个性) with some manual scores and complaints."""
    from bot.demo.approvals import load_demo_approvals

    files = (("persons", "persons.csv"), ("holidays", "holidays-2027.csv"), ("groups", "groups.csv"),
             ("indicators", "indicators.csv"), ("scores", "scores.csv"), ("complaints", "complaints.csv"))
    lines = [(await import_file(db, kind, HERE / name)).summary() for kind, name in files]
    return [*lines, await load_demo_approvals(db, today or datetime.now(LOCAL_TZ).date())]


async def personas(db: Database) -> list[dict[str, str]]:
    """Every demo account as a chat persona, plus a stranger with no account."""
    async with db.read() as session:
        rows = (await session.exec(select(Account, Unit).outerjoin(Unit).order_by(Account.id))).all()
    out = []
    for account, unit in rows:
        role = ROLE_LABELS[Role(account.role_codes[0])] if account.role_codes else ""
        where = unit.label if unit is not None and Role(account.role_codes[0]) in (
            Role.UNIT_CONTACT, Role.UNIT_LEADER) else ""
        out.append({"user_id": account.user_id, "name": account.name, "label": f"{where}{role} {account.name}"})
    out.append({"user_id": "newcomer1", "name": "新同事", "label": "未开通账号的用户 新同事"})
    return out


def demo_config(data_dir: Path, emulator_url: str, port: int) -> Config:
    return Config(
        dingtalk=DingTalkConfig(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                api_endpoint=emulator_url, oapi_endpoint=emulator_url),
        database=DatabaseConfig(url=f"sqlite+aiosqlite:///{(data_dir / 'bianban.db').resolve()}"),
        server=ServerConfig(host="127.0.0.1", port=port),
        # 监督看板: 免登 through the emulator's JSAPI stand-in
        dashboard=DashboardConfig(base_url=f"http://127.0.0.1:{port}" if port else "", corp_id=CORP_ID,
                                  jsapi_url=f"{emulator_url}/h5/dd.js"),
        # quiet hours off, so that a demo at night still shows the pushes at once
        rectification=RectificationConfig(quiet_start="23:59", quiet_end="00:00", quiet_on_rest_days=False),
        base_dir=data_dir,
    )


def _fresh_dir(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    for f in data_dir.glob("bianban.db*"):
        f.unlink()


async def run_demo(data_dir: Path, port: int) -> int:
    from bot.app import BotApp

    await asyncio.to_thread(_fresh_dir, data_dir)
    url = f"http://127.0.0.1:{port}"
    cfg = demo_config(data_dir, url, port + 1)
    db = Database(cfg.database.url)
    for line in [*await load_demo_data(db), *await load_demo_extras(db)]:
        print(line)
    from bot.demo.samples import load_board_samples

    print(await load_board_samples(db, utcnow()))
    emu = Emulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, corp_id=CORP_ID)
    board = f"{cfg.dashboard.base_url}/dashboard"
    attach_chat(emu, await personas(db), dashboard_url=board)  # routes must exist before the server starts
    await emu.start("127.0.0.1", port)
    app = BotApp(cfg, db)
    await app.start()
    await emu.wait_connected(timeout=15)
    from jobs.warnings import scan_warnings

    found = await scan_warnings(app.services)
    print(f"预警扫描：{found.new} 条预警，已推送给相关单位和编办。")
    from jobs.evaluation import daily, scored_county

    await daily(app.services)
    print(await scored_county(app.services))
    print(f"\n演示已启动：在浏览器打开 {url}/ ，选择身份后发送“帮助”。")
    print(f"监督看板：{board}?dd_user=bb_ld1 （以编办领导赵强的身份免登；换身份请在聊天页面选择后点“看板”）")
    print(f"健康检查：http://127.0.0.1:{app.port}/healthz 　按 Ctrl-C 结束。")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await app.stop()
    await emu.stop()
    return 0
