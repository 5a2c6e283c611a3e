"""Attachments: download through DingTalk into the file store; media upload for sampleFile; the
问题台账 workbook; the [storage] configuration."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path

import aiohttp
import openpyxl
import pytest
from aiohttp import web

from bot.config import ConfigError, DingTalkConfig, load_config
from bot.context import Attachment
from bot.dingtalk_api import DingTalkAPI, DingTalkError
from bot.emulator import Emulator, Fault
from bot.files import FileStore, fetch_attachments
from handlers.rectification.xlsx import LEDGER_COLUMNS, LedgerRow, build_ledger_xlsx

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture
async def api(emulator: Emulator) -> AsyncIterator[DingTalkAPI]:
    cfg = DingTalkConfig(client_id=emulator.client_id, client_secret=emulator.client_secret,
                         api_endpoint=emulator.base_url, oapi_endpoint=emulator.base_url, http_timeout=3.0)
    async with aiohttp.ClientSession() as http:
        yield DingTalkAPI(cfg, http)


def files_under(path: Path) -> set[Path]:
    return {p for p in path.rglob("*") if p.is_file()}


# -- download -----------------------------------------------------------------------------------------------
async def test_attachments_are_downloaded_and_stored_by_content(emulator, api, tmp_path):
    report = "整改报告正文".encode() * 1000
    emulator.add_file("dc-photo", PNG)
    emulator.add_file("dc-report", report)
    store = FileStore(tmp_path / "files")
    atts = [Attachment("picture", "dc-photo"), Attachment("file", "dc-report", "整改报告.DOCX"),
            Attachment("picture", "dc-photo")]

    stored = await fetch_attachments(api, store, atts, subdir="ZG-2026-0001", max_bytes=1 << 20)

    photo, doc, again = stored
    assert photo.path == f"ZG-2026-0001/{hashlib.sha256(PNG).hexdigest()}.png"  # extension from the content
    assert doc.path.endswith(".docx") and doc.file_name == "整改报告.DOCX" and doc.kind == "file"
    assert (doc.size, doc.sha256) == (len(report), hashlib.sha256(report).hexdigest())
    assert again.path == photo.path  # the same content is kept once
    assert (tmp_path / "files" / doc.path).read_bytes() == report
    assert await store.read(photo.path) == PNG
    assert len(files_under(tmp_path)) == 2  # no temporary files left behind


async def test_oversize_file_is_refused(emulator, api):
    emulator.add_file("dc-big", b"x" * 5000)
    assert await api.download("dc-big", max_bytes=5000) == b"x" * 5000
    with pytest.raises(DingTalkError) as e:
        await api.download("dc-big", max_bytes=4999)
    assert e.value.code == "FileTooLarge" and not e.value.retryable and "KB" in str(e.value)


async def test_oversize_file_without_length_is_cut_off(api, monkeypatch):
    """A download URL that streams without Content-Length is read only up to the limit."""
    sent = 0

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(64):
            await resp.write(b"y" * 65536)
            sent += 65536
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/f", endless)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def url(code: str) -> str:
        return f"http://127.0.0.1:{port}/f"

    monkeypatch.setattr(api, "file_download_url", url)
    try:
        with pytest.raises(DingTalkError) as e:
            await api.download("whatever", max_bytes=200_000)
        assert e.value.code == "FileTooLarge"
    finally:
        await runner.cleanup()


async def test_bad_download_code_is_a_permanent_error(api):
    with pytest.raises(DingTalkError) as e:
        await api.download("no-such-code", max_bytes=1 << 20)
    assert e.value.status == 400 and e.value.code == "invalidDownloadCode"
    assert not e.value.retryable


# -- media upload (old oapi) ------------------------------------------------------------------------------------
async def test_upload_media_round_trip_and_sample_file(emulator, api):
    data = b"%PDF-1.7 " + bytes(range(256)) * 100
    media_id = await api.upload_media(data, "整改通知书.pdf")
    assert emulator.media[media_id] == ("整改通知书.pdf", data)
    assert emulator.media_types[media_id] == "file"

    param = {"mediaId": media_id, "fileName": "整改通知书.pdf", "fileType": "pdf"}
    await api.batch_send(["u1"], "sampleFile", json.dumps(param, ensure_ascii=False))
    (sent,) = emulator.pushes_to("u1")
    assert sent.msg_key == "sampleFile" and sent.param == param

    odd_id = await api.upload_media(b"z", 'a"b\r\nX-Injected: 1.txt')
    assert emulator.media[odd_id][0] == 'a"bX-Injected: 1.txt'

    image_id = await api.upload_media(PNG, "photo.png", "image")
    assert emulator.media_types[image_id] == "image"
    with pytest.raises(ValueError):
        await api.upload_media(PNG, "photo.png", "picture")


async def test_oapi_token_is_cached_and_refreshed_once_when_rejected(emulator, api):
    await api.upload_media(b"a", "a.txt")
    await api.upload_media(b"b", "b.txt")
    assert api.calls == 3  # one gettoken, two uploads
    first = await api.oapi_token()

    emulator.revoke_tokens()  # 40014 invalid token
    await api.upload_media(b"c", "c.txt")
    assert api.calls == 6  # rejected upload, gettoken, upload
    second = await api.oapi_token()
    assert second != first

    emulator.expire_oapi_tokens()  # 42001 expired token
    await api.upload_media(b"d", "d.txt")
    assert api.calls == 9 and await api.oapi_token() != second
    assert sorted(name for name, _ in emulator.media.values()) == ["a.txt", "b.txt", "c.txt", "d.txt"]

    # a token rejected again right after the refresh is not refreshed a second time
    emulator.faults.inject("media/upload", Fault(status=400, code="40014"), times=2)
    with pytest.raises(DingTalkError) as e:
        await api.upload_media(b"e", "e.txt")
    assert e.value.code == "40014" and api.calls == 12


async def test_oapi_errors_are_classified(emulator, api):
    emulator.faults.inject("media/upload", Fault(status=503))
    with pytest.raises(DingTalkError) as e:
        await api.upload_media(b"x", "x.txt")
    assert e.value.retryable and e.value.status == 503

    emulator.faults.inject("media/upload", Fault(status=429, code="90018"))
    with pytest.raises(DingTalkError) as e:
        await api.upload_media(b"x", "x.txt")
    assert e.value.retryable

    bad = DingTalkAPI(DingTalkConfig(client_id="test-app", client_secret="wrong", oapi_endpoint=emulator.base_url),
                      api._http)
    with pytest.raises(DingTalkError) as e:
        await bad.oapi_token()
    assert e.value.code == "40089" and not e.value.retryable


# -- the file store never leaves its root ---------------------------------------------------------------------------
async def test_file_store_never_writes_outside_its_root(tmp_path):
    root = tmp_path / "store"
    store = FileStore(root)
    for name in ("../../etc/passwd", "..\\..\\boot.ini", "/etc/shadow", "..", "a\x00b\n.txt", "\u202egpj.exe"):
        stored = await store.save(b"secret " + name.encode(), kind="file", file_name=name, subdir="ZG-1")
        assert (root / stored.path).resolve().is_relative_to(root.resolve())
        assert "/" not in stored.file_name and "\\" not in stored.file_name and ".." != stored.file_name
    assert files_under(tmp_path) == files_under(root)
    assert {p.parent for p in files_under(root)} == {root / "ZG-1"}
    names = {s.file_name for s in [await store.save(b"1", kind="file", file_name="../../etc/passwd", subdir="x")]}
    assert names == {"passwd"}

    for subdir in ("../x", "a/../../x", "/abs", "a//b", "..", "a\\b", "单位"):
        with pytest.raises(ValueError):
            await store.save(b"z", kind="file", file_name="z.txt", subdir=subdir)
    for rel in ("../x", "/etc/passwd", ""):
        with pytest.raises(ValueError):
            store.path_of(rel)


async def test_file_store_refuses_a_symlink_leading_out(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "store"
    root.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError):
        await FileStore(root).save(b"z", kind="file", file_name="z.txt", subdir="link")
    assert not any(outside.iterdir())


# -- 问题台账 workbook ------------------------------------------------------------------------------------------
def ledger_row(number: str, unit: str, light: str, *, left: int = 5, provisional: bool = False) -> LedgerRow:
    closed = light == "closed"
    return LedgerRow(
        number=number, unit=unit, source="巡察", description=f"{unit}超编进人", requirement="限期清理",
        assigned_on=date(2026, 3, 2), deadline=date(2026, 4, 30), provisional=provisional,
        workdays_left=left, light=light, status="已销号" if closed else "整改中",
        closed_on=date(2026, 4, 20) if closed else None,
    )


def test_ledger_workbook():
    rows = [
        ledger_row("ZG-2026-0001", "县教育局", "green", left=20),
        ledger_row("ZG-2026-0002", "县卫健局", "red", left=-3),
        ledger_row("ZG-2026-0003", "县卫健局", "yellow", left=2, provisional=True),
        ledger_row("ZG-2026-0004", "县教育局", "closed"),
        ledger_row("ZG-2026-0005", "县卫健局", "red", left=-1),
        ledger_row("ZG-2026-0006", "县财政局", "red", left=0),
    ]
    data = build_ledger_xlsx(rows, title="示例县问题台账", generated_at=datetime(2026, 5, 6, 9, 30))
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["问题台账", "按单位汇总"]

    ws = wb["问题台账"]
    assert "示例县问题台账" in ws["A1"].value and "2026-05-06 09:30" in ws["A1"].value
    header = [c.value for c in ws[2]]
    assert header == [name for name, _ in LEDGER_COLUMNS] == [
        "问题编号", "单位", "问题来源", "问题描述", "整改要求", "交办日期", "整改期限", "剩余工作日", "灯", "状态",
        "销号日期"]
    assert all(c.font.b for c in ws[2])
    assert ws.freeze_panes == "A3" and ws.auto_filter.ref == "A2:K8"
    assert ws.column_dimensions["D"].width > ws.column_dimensions["C"].width
    by_number = {r[0].value: r for r in ws.iter_rows(min_row=3)}
    assert len(by_number) == 6

    red = by_number["ZG-2026-0002"]
    assert [c.value for c in red[7:10]] == [-3, "红", "整改中"]
    assert red[8].fill.fgColor.rgb.endswith("FFC7CE")
    assert by_number["ZG-2026-0001"][8].fill.fgColor.rgb.endswith("C6EFCE")
    assert by_number["ZG-2026-0003"][8].fill.fgColor.rgb.endswith("FFEB9C")
    closed = by_number["ZG-2026-0004"]
    assert closed[8].value == "已销号" and closed[8].fill.fgColor.rgb.endswith("D9D9D9")
    assert closed[7].value is None and closed[10].value.date() == date(2026, 4, 20)

    provisional, firm = by_number["ZG-2026-0003"][6], red[6]
    assert provisional.value.date() == firm.value.date() == date(2026, 4, 30)  # still a real date
    assert provisional.number_format.endswith('"（暂定）"') and "暂定" not in firm.number_format
    assert red[5].number_format == "yyyy-mm-dd" and red[5].value.date() == date(2026, 3, 2)

    ws = wb["按单位汇总"]
    assert [c.value for c in ws[2]] == ["单位", "问题总数", "已销号", "未销号", "红灯", "黄灯", "绿灯", "销号率"]
    assert ws.freeze_panes == "A3" and ws.auto_filter.ref == "A2:H5"
    table = [[c.value for c in r] for r in ws.iter_rows(min_row=3)]
    assert table[:3] == [
        ["县卫健局", 3, 0, 3, 2, 1, 0, 0],
        ["县财政局", 1, 0, 1, 1, 0, 0, 0],
        ["县教育局", 2, 1, 1, 0, 0, 1, 0.5],
    ]
    assert table[3] == ["合计", 6, 1, 5, 3, 1, 1, pytest.approx(1 / 6)]
    assert ws["H5"].number_format == "0.0%"


def test_ledger_workbook_empty_and_bad_light():
    wb = openpyxl.load_workbook(io.BytesIO(build_ledger_xlsx([], title="空", generated_at=datetime(2026, 1, 1))))
    assert wb["问题台账"].max_row == 2 and wb["按单位汇总"].max_row == 2
    with pytest.raises(ValueError):
        ledger_row("ZG-1", "x", "blue")


# -- [storage] configuration ------------------------------------------------------------------------------------------
def test_storage_config(tmp_path):
    example = load_config(ROOT / "config.example.toml", env={})
    assert example.storage_dir == ROOT / "files" and example.storage.max_file_mb == 20
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    assert "[storage]" in text and "dir =" in text and "max_file_mb =" in text

    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text("[storage]\ndir = 'data/att'\nmax_file_mb = 5\n", encoding="utf-8")
    cfg = load_config(cfg_file, env={})
    assert cfg.storage_dir == tmp_path.resolve() / "data" / "att" and cfg.storage.max_file_mb == 5
    cfg_file.write_text(f"[storage]\ndir = '{tmp_path / 'abs'}'\n", encoding="utf-8")
    assert load_config(cfg_file, env={}).storage_dir == tmp_path / "abs"

    for bad, key in (("max_file_mb = 0", "[storage] max_file_mb"), ("max_file_mb = '5'", "[storage] max_file_mb"),
                     ("path = 'x'", "[storage] path")):
        cfg_file.write_text(f"[storage]\n{bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
            load_config(cfg_file, env={})
