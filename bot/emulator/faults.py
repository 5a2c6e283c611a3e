"""Failure switches for the emulator: queued faults per endpoint, per-user flow control, and held answers.

`inject()` faults act *before* the emulator accepts a call (a `delay` holds the request unanswered
and unrecorded). `hold()` acts *after*: the message is recorded in the ledger, then the answer is
held back, which is the window where a sender cannot know DingTalk accepted its message.
`release()` (called by `Emulator.stop()`) ends every pending delay and hold at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from email.utils import formatdate

from aiohttp import web


@dataclass
class Fault:
    status: int = 500  # 0 = answer normally after `delay`
    code: str = ""
    message: str = ""
    retry_after: float | None = None
    delay: float = 0.0  # seconds to wait before answering (slow answers, timeouts)
    html: bool = False  # answer with an HTML page (DingTalk's IP ban)


class Faults:
    """`inject("batchSend", Fault(status=503), times=3)` makes the next three calls fail."""

    def __init__(self) -> None:
        self._queued: dict[str, deque[Fault]] = defaultdict(deque)
        self._flow: dict[str, int] = defaultdict(int)
        self._holds: dict[str, deque[float]] = defaultdict(deque)
        self._released = asyncio.Event()
        self._clock_skew = 0.0

    def skew_clock(self, seconds: float) -> None:
        """Every answer's Date header is `seconds` off the real time (a server clock that drifted)."""
        self._clock_skew = seconds

    async def date_header(self, _request: web.Request, response: web.StreamResponse) -> None:
        if self._clock_skew:
            response.headers["Date"] = formatdate(time.time() + self._clock_skew, usegmt=True)

    def inject(self, endpoint: str, fault: Fault, times: int = 1) -> None:
        self._queued[endpoint].extend([fault] * times)

    def clear(self) -> None:
        self._queued.clear()
        self._flow.clear()
        self._holds.clear()
        self._clock_skew = 0.0

    def hold(self, endpoint: str, seconds: float, times: int = 1) -> None:
        """The next `times` accepted calls of `endpoint` are recorded, then answered `seconds` later."""
        self._holds[endpoint].extend([seconds] * times)

    async def take_hold(self, endpoint: str) -> None:
        """Called after a call was recorded: wait out its queued hold, if any."""
        queue = self._holds.get(endpoint)
        if queue:
            await self._sleep(queue.popleft())

    def release(self) -> None:
        """End every pending delay and hold now (and any started later): used on shutdown."""
        self._released.set()

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._released.wait(), seconds)
        except TimeoutError:
            pass

    def flow_control(self, user_ids: list[str], times: int = 1) -> None:
        """The next `times` batchSends reaching each user report them flow-controlled."""
        for user in user_ids:
            self._flow[user] += times

    def take_flow_control(self, user_ids: list[str]) -> list[str]:
        hit = [u for u in user_ids if self._flow.get(u, 0) > 0]
        for user in hit:
            self._flow[user] -= 1
        return hit

    async def take(self, endpoint: str) -> web.Response | None:
        """The response for the next queued fault of `endpoint`, or None to answer normally."""
        queue = self._queued.get(endpoint)
        if not queue:
            return None
        fault = queue.popleft()
        if fault.delay:
            await self._sleep(fault.delay)
        if fault.status == 0:
            return None
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
        if fault.html:
            return web.Response(status=fault.status, text="<html>访问受限</html>", content_type="text/html")
        body = {"code": fault.code or f"Http{fault.status}", "message": fault.message or "injected fault"}
        return web.json_response(body, status=fault.status, headers=headers)
