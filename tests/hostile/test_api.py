"""Abusive bodies for `POST /api/approvals`: every one gets 400 (413, 415) with a Chinese reason,
never a 500, and writes nothing."""

from __future__ import annotations

import json
import re

import aiohttp
import pytest
from sqlalchemy import func
from sqlmodel import select

from models import ApprovalItem
from tests.conftest import FakeClock, beijing
from tests.hostile.cases import leaks

GOOD = {"number": "API-H1", "unit": "教育局", "type": "用编核准", "title": "教师招聘用编",
        "submitted_at": "2026-11-19T09:00:00+08:00", "stage": "受理", "handler": "bb_ywy1"}
JSON = "application/json"


def item(**changes: object) -> bytes:
    return json.dumps([dict(GOOD, **changes)], ensure_ascii=False).encode()


BODIES: list[tuple[str, bytes, str]] = [  # (name, body, content type)
    ("nested lists", b"[" * 100_000, JSON),
    ("nested objects", b'{"a":' * 100_000, JSON),
    ("nested lists, closed", b"[" * 50_000 + b"]" * 50_000, JSON),
    ("nested items", json.dumps({"items": [[[[[[[[[[[[GOOD]]]]]]]]]]]]}).encode(), JSON),
    ("huge title", item(title="长" * 1_500_000), JSON),
    ("huge number", b'[{"number": ' + b"9" * 5000 + b"}]", JSON),
    ("huge key", json.dumps([{"k" * 100_000: 1}]).encode(), JSON),
    ("many keys", json.dumps([{f"k{i}": i for i in range(50_000)}]).encode(), JSON),
    ("NaN", b'[{"number": NaN, "unit": "\\u6559\\u80b2\\u5c40"}]', JSON),
    ("Infinity", b'[{"number": "A", "submitted_at": Infinity}]', JSON),
    ("unit as a number", item(unit=10**30), JSON),
    ("handler as a float", item(handler=1.5e300), JSON),
    ("stage as a list", item(stage=["受理"]), JSON),
    ("items as an object", json.dumps({"items": {"a": GOOD}}).encode(), JSON),
    ("items as a string", json.dumps({"items": "GOOD"}).encode(), JSON),
    ("items null", json.dumps({"items": None}).encode(), JSON),
    ("body null", b"null", JSON),
    ("body true", b"true", JSON),
    ("body a number", b"1e999", JSON),
    ("body a string", b'"[]"', JSON),
    ("empty item", b"[{}]", JSON),
    ("bad dates", item(submitted_at="2026-02-30", completed_at="99999-01-01", status="已办结"), JSON),
    ("date far away", item(submitted_at="0001-01-01T00:00:00+14:00"), JSON),
    ("lone surrogate", b'[{"number": "A\\ud800", "unit": "\\u6559\\u80b2\\u5c40"}]', JSON),
    ("GBK body", json.dumps([GOOD], ensure_ascii=False).encode("gbk"), JSON),
    ("UTF-16 body", json.dumps([GOOD]).encode("utf-16"), JSON),
    ("binary", bytes(range(256)) * 10, JSON),
    ("empty", b"", JSON),
    ("whitespace", b"   \n ", JSON),
    ("form", b"number=A&unit=B", "application/x-www-form-urlencoded"),
    ("multipart", b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--\r\n",
     "multipart/form-data; boundary=x"),
    ("xml", b"<items><item number='A'/></items>", "application/xml"),
    ("JSON as xml", item(), "text/xml"),
]


async def post(port: int, body: bytes, content_type: str) -> tuple[int, str]:
    headers = {"Authorization": "Bearer tok", "Content-Type": content_type}
    async with aiohttp.ClientSession() as http, \
            http.post(f"http://127.0.0.1:{port}/api/approvals", data=body, headers=headers) as resp:
        return resp.status, await resp.text()


@pytest.fixture
async def api_bot(make_bot):
    return await make_bot(clock=FakeClock(beijing("2026-11-20 10:00")), server={"api_token": "tok"})


async def test_abusive_bodies_get_a_chinese_reason_and_write_nothing(api_bot):
    wrong = []
    for name, body, content_type in BODIES:
        status, text = await post(api_bot.port, body, content_type)
        try:
            error = json.loads(text)["error"]
        except (ValueError, KeyError, TypeError):
            error = ""
        if status not in (400, 413, 415) or not re.search(r"[\u4e00-\u9fff]", error) or leaks(error):
            wrong.append((name, status, text[:200]))
    assert wrong == [], [w[:2] for w in wrong]
    async with api_bot.db.read() as session:
        assert (await session.exec(select(func.count()).select_from(ApprovalItem))).one() == 0
    # and the endpoint still works
    status, text = await post(api_bot.port, item(), JSON)
    assert status == 200, text


async def test_nul_characters_are_stripped_not_a_server_error(api_bot):
    status, text = await post(api_bot.port, item(title="教师\u0000招聘"), JSON)
    assert status == 200, text
    async with api_bot.db.read() as session:
        [row] = (await session.exec(select(ApprovalItem))).all()
    assert row.title == "教师招聘"
