"""The demo's chat page (bot/emulator/chat.py): an Excel export appears as a file with its name, size
and a download link that serves the file, not as an empty bubble."""

from __future__ import annotations

import asyncio
from io import BytesIO
from urllib.parse import unquote

import aiohttp
import pytest
from openpyxl import load_workbook

from bot.demo import personas
from bot.emulator import Emulator
from bot.emulator.chat import attach_chat


@pytest.fixture
async def emulator(demo_db):  # the test emulator with the chat page attached before it starts
    emu = Emulator(client_id="test-app", client_secret="test-secret-value", ping_interval=0.5)
    attach_chat(emu, await personas(demo_db))
    await emu.start()
    yield emu
    await emu.stop()


async def file_event(http: aiohttp.ClientSession, base: str, user: str) -> dict:
    for _ in range(100):
        async with http.get(f"{base}/chat/log", params={"user_id": user, "since": "0"}) as r:
            files = [e for e in (await r.json())["events"] if e.get("file")]
        if files:
            return files[0]
        await asyncio.sleep(0.1)
    raise AssertionError("no file message on the chat page")


async def test_an_export_shows_as_a_downloadable_file(emulator, bot):
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{emulator.base_url}/chat/send",
                             json={"user_id": "bb_ld1", "text": "导出台账", "conversation": "single"}) as r:
            assert r.status == 200
        event = await file_event(http, emulator.base_url, "bb_ld1")
        assert event["file"]["name"].endswith(".xlsx") and event["file"]["size"] > 1000
        assert "KB" in event["file"]["size_text"]
        async with http.get(emulator.base_url + event["file"]["url"]) as r:
            assert r.status == 200
            body = await r.read()
            assert unquote(r.headers["Content-Disposition"]).endswith(event["file"]["name"])
        assert len(body) == event["file"]["size"]
        assert load_workbook(BytesIO(body)).sheetnames  # a real workbook
        async with http.get(f"{emulator.base_url}/chat/media/nothing") as r:
            assert r.status == 404
