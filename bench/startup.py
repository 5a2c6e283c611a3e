"""Start-up time and idle memory of `python -m bot run`, against the local emulator.

Start-up = from process spawn until the emulator holds the bot's Stream connection and /healthz
answers 200. Idle memory = the process's RSS after 5 s of idling. Run: .venv/bin/python bench/startup.py
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db import Database  # noqa: E402
from bot.demo import load_demo_data  # noqa: E402
from bot.emulator import Emulator  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main() -> None:
    emu = Emulator(client_id="bench", client_secret="bench-secret")
    url = await emu.start()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        db = Database(f"sqlite+aiosqlite:///{db_path}")
        await load_demo_data(db)
        await db.dispose()
        cfg = Path(tmp) / "config.toml"
        cfg.write_text(
            f'[dingtalk]\nclient_id = "bench"\nclient_secret = "bench-secret"\napi_endpoint = "{url}"\n'
            f'oapi_endpoint = "{url}"\n[database]\nurl = "sqlite+aiosqlite:///{db_path}"\n'
            f'[server]\nport = 18931\n[bot]\nlog_level = "WARNING"\n', encoding="utf-8")
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bot", "-c", str(cfg), "run"], cwd=ROOT)
        try:
            await emu.wait_connected(timeout=60)
            async with aiohttp.ClientSession() as http:
                while True:
                    try:
                        async with http.get("http://127.0.0.1:18931/healthz") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.02)
            startup = time.perf_counter() - t0
            await asyncio.sleep(5)
            print(f"start-up (spawn → connected and healthy): {startup:.2f} s")
            print(f"idle memory of `run` (RSS after 5 s idle): {rss_mib(proc.pid):.1f} MiB")
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    await emu.stop()


if __name__ == "__main__":
    asyncio.run(main())
