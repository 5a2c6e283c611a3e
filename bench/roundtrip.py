"""Round-trip time of `帮助` through the emulator: the emulator sends a Stream frame, the real SDK
receives it, the bot answers by sessionWebhook, the emulator records the answer.

Run: .venv/bin/python bench/roundtrip.py [N]   (SQLite; BOT_BENCH_POSTGRES_URL for PostgreSQL)
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import BotApp  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.demo import demo_config, load_demo_data  # noqa: E402
from bot.emulator import Emulator  # noqa: E402


async def main(n: int) -> None:
    emu = Emulator(client_id="demo-app", client_secret="demo-secret")
    url = await emu.start()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = demo_config(Path(tmp), url, 0)
        db_url = os.environ.get("BOT_BENCH_POSTGRES_URL") or cfg.database.url
        if db_url != cfg.database.url:
            from tests.conftest import _reset_postgres

            await _reset_postgres(db_url)
        db = Database(db_url)
        await load_demo_data(db)
        import dataclasses

        cfg = dataclasses.replace(cfg, database=dataclasses.replace(cfg.database, url=db_url),
                                  bot=dataclasses.replace(cfg.bot, rate_limit_count=10**6, log_level="WARNING"))
        app = BotApp(cfg, db)
        await app.start(serve_http=False)
        await emu.wait_connected()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            await emu.wait_reply(await emu.send_text("jyj_ll", "帮助"))
            times.append((time.perf_counter() - t0) * 1000)
        await app.stop()
    await emu.stop()
    times.sort()
    backend = "PostgreSQL" if "postgresql" in db_url else "SQLite"
    print(f"帮助 round trip through the emulator ({backend}, {n} sequential messages): "
          f"p50 {statistics.median(times):.1f} ms, p99 {times[int(0.99 * (n - 1))]:.1f} ms, "
          f"mean {statistics.fmean(times):.1f} ms")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
