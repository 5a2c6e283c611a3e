"""`进度 <编号>` at county scale, side by side with the SDK-sample bot (bench/sdk_peer.py).

200,000 approval items in 2,000 units, every DingTalk HTTP call answered after 50 ms (the emulator's
latency). Both bots run as their own process against the same database; this process is DingTalk
(the emulator) and the users. It prints, for each bot:
- closed loop: 50 users sending back to back for a while: messages/s and p50/p99 (frame → reply);
- open loop: Poisson arrivals at 50 msg/s: p50/p99 (ours only; the peer saturates);
- one message alone: median of 20;
- for ours also: idle RSS, start time (spawn → connected) and exit time after SIGTERM;
- with BOT_BENCH_SCALE=1 on PostgreSQL: throughput with one and with two `run` processes.

Run: .venv/bin/python bench/progress.py [ITEMS] [SECONDS]   (BOT_BENCH_POSTGRES_URL for PostgreSQL;
     the peer runs on SQLite only). A seeded SQLite file is cached in /tmp/bianban-bench/.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from approvals import UNITS, seed  # noqa: E402  (bench/approvals.py)

from bot.db import Database  # noqa: E402
from bot.emulator import Emulator  # noqa: E402
from bot.migrate import upgrade  # noqa: E402

USERS, LATENCY, RATE = 50, 0.05, 50.0
CACHE = Path("/tmp/bianban-bench")
CLIENT_ID, CLIENT_SECRET = "bench-app", "bench-secret"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))] if values else float("nan")


async def database(items: int) -> str:
    """The database URL, seeded once (SQLite: cached file copied per run)."""
    pg = os.environ.get("BOT_BENCH_POSTGRES_URL", "")
    if pg:
        from tests.conftest import _reset_postgres

        await _reset_postgres(pg)
        db = Database(pg)
        await upgrade(db)
        await seed(db, items)
        await db.dispose()
        return pg
    CACHE.mkdir(exist_ok=True)
    cached = CACHE / f"progress-{items}.db"
    if not cached.exists():
        db = Database(f"sqlite+aiosqlite:///{cached}.tmp")
        await upgrade(db)
        await seed(db, items)
        await db.dispose()
        os.replace(f"{cached}.tmp", cached)
    work = CACHE / f"run-{os.getpid()}.db"
    shutil.copyfile(cached, work)
    return f"sqlite+aiosqlite:///{work}"


def write_config(path: Path, url: str, db_url: str) -> Path:
    path.write_text(f"""
[dingtalk]
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
api_endpoint = "{url}"
oapi_endpoint = "{url}"
[database]
url = "{db_url}"
[server]
port = {free_port()}
[bot]
rate_limit_count = 1000000
log_level = "WARNING"
[storage]
dir = "{path.parent / 'files'}"
""", encoding="utf-8")
    return path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Users:
    def __init__(self, emu: Emulator, items: int) -> None:
        self.emu, self.items = emu, items

    def text(self, rng: random.Random, user: int) -> str:
        return f"进度 SP-{rng.randrange(self.items // UNITS) * UNITS + user:06d}"  # an item of the user's unit

    async def one(self, user: int, text: str) -> float:
        data = self.emu.message(f"u{user:04d}", text)
        waiter = self.emu.expect_reply(data["msgId"])
        t0 = time.perf_counter()
        await self.emu.deliver(data)
        await asyncio.wait_for(waiter, 60)
        return (time.perf_counter() - t0) * 1000

    async def closed(self, seconds: float) -> tuple[float, list[float]]:
        times: list[float] = []
        end = time.perf_counter() + seconds

        async def loop(user: int) -> None:
            rng = random.Random(user)
            while time.perf_counter() < end:
                times.append(await self.one(user, self.text(rng, user)))

        t0 = time.perf_counter()
        await asyncio.gather(*(loop(u) for u in range(USERS)))
        return len(times) / (time.perf_counter() - t0), times

    async def open(self, seconds: float, rate: float) -> list[float]:
        rng = random.Random(7)
        tasks, t = [], time.perf_counter()
        end = t + seconds
        while t < end:
            t += rng.expovariate(rate)
            await asyncio.sleep(max(0.0, t - time.perf_counter()))
            user = rng.randrange(USERS)
            tasks.append(asyncio.create_task(self.one(user, self.text(rng, user))))
        return list(await asyncio.gather(*tasks))

    async def alone(self, n: int = 20) -> list[float]:
        rng = random.Random(11)
        return [await self.one(u % USERS, self.text(rng, u % USERS)) for u in range(n)]


async def start(emu: Emulator, cmd: list[str], connections: int) -> tuple[subprocess.Popen[bytes], float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
    await emu.wait_connected(connections, timeout=60)
    started = time.perf_counter() - t0
    await asyncio.sleep(1.0)  # start-up catch-up scans
    return proc, started


async def stop(proc: subprocess.Popen[bytes]) -> float:
    t0 = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    while proc.poll() is None and time.perf_counter() - t0 < 30:
        await asyncio.sleep(0.02)
    if proc.poll() is None:
        proc.kill()
    return time.perf_counter() - t0


def line(name: str, rate: float, times: list[float]) -> str:
    return f"{name}: {rate:.0f} msg/s, p50 {statistics.median(times):.0f} ms, p99 {pct(times, 0.99):.0f} ms"


async def run_ours(emu: Emulator, users: Users, cfg: Path, seconds: float) -> None:
    proc, started = await start(emu, [sys.executable, "-m", "bot", "-c", str(cfg), "run"], 1)
    idle = rss_mb(proc.pid)
    alone = await users.alone()
    rate, times = await users.closed(seconds)
    print(line(f"  ours, {USERS} users back to back", rate, times))
    poisson = await users.open(seconds, RATE)
    print(f"  ours, {RATE:.0f} msg/s Poisson: p50 {statistics.median(poisson):.0f} ms, p99 {pct(poisson, 0.99):.0f} ms")
    print(f"  ours, one message alone: median {statistics.median(alone):.0f} ms")
    exited = await stop(proc)
    print(f"  ours: start {started:.2f} s, idle RSS {idle:.0f} MB, exit after SIGTERM {exited:.2f} s")


async def run_peer(emu: Emulator, users: Users, db_path: str, url: str, seconds: float) -> None:
    cmd = [sys.executable, str(ROOT / "bench/sdk_peer.py"), "--endpoint", url, "--db", db_path,
           "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET]
    proc, _ = await start(emu, cmd, 1)
    rate, times = await users.closed(seconds)
    print(line(f"  SDK-sample peer, {USERS} users back to back", rate, times))
    await stop(proc)


async def run_scale(emu: Emulator, users: Users, cfg: Path, seconds: float) -> None:
    emu.spread = True
    text = cfg.read_text(encoding="utf-8")
    configs = [cfg]
    for i in (2,):  # each process serves HTTP on its own port
        other = cfg.with_name(f"config-{i}.toml")
        other.write_text(re.sub(r"port = \d+", f"port = {free_port()}", text), encoding="utf-8")
        configs.append(other)
    for n in (1, 2):
        procs = []
        for i in range(n):
            proc, _ = await start(emu, [sys.executable, "-m", "bot", "-c", str(configs[i]), "run"], i + 1)
            procs.append(proc)
        rate, times = await users.closed(seconds)
        print(line(f"  ours, {n} process{'es' if n > 1 else ''}", rate, times))
        for proc in procs:
            await stop(proc)
        await asyncio.sleep(1)
    emu.spread = False


async def main(items: int, seconds: float) -> None:
    emu = Emulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, ping_interval=20, latency=LATENCY)
    url = await emu.start()
    db_url = await database(items)
    work = CACHE / f"cfg-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    cfg = write_config(work / "config.toml", url, db_url)
    users = Users(emu, items)
    backend = "PostgreSQL" if "postgresql" in db_url else "SQLite"
    print(f"进度 on {backend}: {items} items in {UNITS} units, {LATENCY * 1000:.0f} ms DingTalk latency, "
          f"{seconds:.0f} s per run")
    try:
        await run_ours(emu, users, cfg, seconds)
        if backend == "SQLite":
            await run_peer(emu, users, db_url.removeprefix("sqlite+aiosqlite:///"), url, seconds)
        elif os.environ.get("BOT_BENCH_SCALE"):
            await run_scale(emu, users, cfg, seconds)
    finally:
        await emu.stop()
        shutil.rmtree(work, ignore_errors=True)
        if backend == "SQLite":
            Path(db_url.removeprefix("sqlite+aiosqlite:///")).unlink(missing_ok=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(int(args[0]) if args else 200_000, float(args[1]) if len(args) > 1 else 15.0))
