"""Failure switches for the emulator: queued faults per endpoint, and per-user flow control."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from dataclasses import dataclass

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

    def inject(self, endpoint: str, fault: Fault, times: int = 1) -> None:
        self._queued[endpoint].extend([fault] * times)

    def clear(self) -> None:
        self._queued.clear()
        self._flow.clear()

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
            await asyncio.sleep(fault.delay)
        if fault.status == 0:
            return None
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
        if fault.html:
            return web.Response(status=fault.status, text="<html>访问受限</html>", content_type="text/html")
        body = {"code": fault.code or f"Http{fault.status}", "message": fault.message or "injected fault"}
        return web.json_response(body, status=fault.status, headers=headers)
