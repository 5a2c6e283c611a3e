"""`import approvals` writes a file chunk by chunk inside one transaction: these tests make the chunks
tiny (CHUNK_ROWS) so a handful of rows cross several of them, and check that the file is still all or
nothing, that every error keeps its row number, and that a unit still hears once per import."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import select

import handlers.approvals.import_approvals as kind
import handlers.approvals.sync as sync
from bot.importing import ImportRejected, import_file
from bot.importing.base import DUPLICATES_SHOWN
from handlers.approvals.import_approvals import ItemErrors, Lookup, json_rows, validate_rows
from models import ApprovalEvent, AuditEvent
from models.approvals.tables import ApprovalItem
from models.outbox import OutboxMessage
from tests.approvals.test_sources import HEALTH_USCC, count, history, write_csv


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kind, "CHUNK_ROWS", 3)


def rows(n: int, stage: str = "受理", unit: str = "教育局", prefix: str = "SP-C") -> list[list[Any]]:
    return [[f"{prefix}-{i:03d}", unit, "用编核准", f"事项{i}", "2026-11-16 09:30", stage, "", "", ""]
            for i in range(n)]


async def state(db) -> tuple[int, int, int, list[str]]:
    """Items, events and outbox messages, and the stages, so a rolled-back import shows no trace."""
    async with db.read() as s:
        stages = [i.stage for i in (await s.exec(select(ApprovalItem).order_by(ApprovalItem.number))).all()]
    return (await count(db, ApprovalItem), await count(db, ApprovalEvent), await count(db, OutboxMessage), stages)


async def test_a_bad_row_after_several_chunks_writes_nothing_and_every_error_keeps_its_row(demo_db, tmp_path):
    await import_file(demo_db, "approvals", write_csv(tmp_path / "1.csv", rows(5)))
    before = await state(demo_db)
    moved = rows(5, "审核") + rows(10, prefix="SP-N")  # updates and inserts in the first chunks
    moved[12][1] = "不存在局"  # row 14, in the fifth chunk
    moved[13][4] = "昨天"  # row 15, after the first error: still checked
    with pytest.raises(ImportRejected) as exc:
        await import_file(demo_db, "approvals", write_csv(tmp_path / "2.csv", moved))
    assert exc.value.lines == ["第14行 所属单位: 找不到单位“不存在局”",
                               "第15行 提交时间: 无法识别的日期“昨天”（应如 2026-11-23）"]
    assert await state(demo_db) == before
    assert await history(demo_db, "SP-C-000") == [("提交", "受理", "办理中")]


async def test_an_error_in_the_first_chunk_still_reports_the_last_rows(demo_db, tmp_path):
    bad = rows(10)
    bad[0][2] = "乱填"
    bad[9][5] = ""
    with pytest.raises(ImportRejected) as exc:
        await import_file(demo_db, "approvals", write_csv(tmp_path / "bad.csv", bad))
    assert [line.split(" ")[0] for line in exc.value.lines] == ["第2行", "第11行"]
    assert await count(demo_db, ApprovalItem) == 0


async def test_duplicates_across_chunks_name_the_first_row(demo_db, tmp_path):
    file = rows(8)
    file.append(file[1][:])  # row 10 repeats row 3, two chunks later
    file += [file[0][:] for _ in range(DUPLICATES_SHOWN + 2)]  # rows 11… repeat row 2
    with pytest.raises(ImportRejected) as exc:
        await import_file(demo_db, "approvals", write_csv(tmp_path / "dups.csv", file))
    lines = exc.value.lines
    assert lines[0] == "第10行 事项编号: 与第3行重复"
    assert lines[1:DUPLICATES_SHOWN] == [f"第{n}行 事项编号: 与第2行重复" for n in range(11, 10 + DUPLICATES_SHOWN)]
    assert lines[-1] == f"……共 {DUPLICATES_SHOWN + 3} 行与前面的行重复（只列出前 {DUPLICATES_SHOWN} 行）"
    assert await count(demo_db, ApprovalItem) == 0


async def test_a_unit_hears_once_however_many_chunks_its_items_span(demo_db, tmp_path, monkeypatch):
    monkeypatch.setattr(sync, "DIGEST_LINES", 4)
    health = rows(2, unit=HEALTH_USCC, prefix="SP-H")
    await import_file(demo_db, "approvals", write_csv(tmp_path / "1.csv", rows(7) + health))
    moved = rows(7, "审核") + rows(1, "审核", unit=HEALTH_USCC, prefix="SP-H") + health[1:]
    result = await import_file(demo_db, "approvals", write_csv(tmp_path / "2.csv", moved))
    assert (result.added, result.updated, result.unchanged) == (0, 8, 1)
    async with demo_db.read() as s:
        to_contact = (await s.exec(select(OutboxMessage).where(OutboxMessage.recipient == "user:jyj_ll"))).all()
        to_health = (await s.exec(select(OutboxMessage).where(OutboxMessage.kind == "approval.stage"))).all()
    [digest] = to_contact  # 教育局: 7 items over three chunks, one digest listing the first 4
    text = json.loads(digest.payload)["text"]
    assert digest.kind == "approval.batch" and "审批进度更新（7 项）" in text
    assert all(f"SP-C-{n:03d} 用编核准" in text for n in range(4)) and "SP-C-004" not in text
    assert to_health and all("SP-H-000" in json.loads(m.payload)["text"] for m in to_health)  # 卫健局: one item
    assert len({m.recipient for m in to_health}) == len(to_health)
    await import_file(demo_db, "approvals", write_csv(tmp_path / "2.csv", moved))
    assert await count(demo_db, OutboxMessage, OutboxMessage.recipient == "user:jyj_ll") == 1


async def test_the_audit_row_keeps_the_first_numbers_only(demo_db, tmp_path, monkeypatch):
    monkeypatch.setattr(sync, "NUMBERS_KEPT", 4)
    await import_file(demo_db, "approvals", write_csv(tmp_path / "1.csv", rows(10)))
    async with demo_db.read() as s:
        [row] = (await s.exec(select(AuditEvent).where(AuditEvent.action == "import.approvals"))).all()
    detail = json.loads(row.detail)
    assert detail["added"] == 10 and detail["numbers"] == [f"SP-C-{n:03d}" for n in range(4)]


async def test_api_items_still_name_a_repeat_by_its_position(demo_db):
    errors = ItemErrors()
    item = {"number": "API-1", "unit": "教育局", "type": "用编核准", "submitted_at": "2026-11-19", "stage": "受理"}
    async with demo_db.read() as s:
        lookup = await Lookup.load(s)
    items = list(validate_rows(json_rows([item, dict(item), dict(item, number="API-2")], errors), lookup, errors))
    assert errors.lines == ["第2项 number: 与第1项重复"]
    assert [i.number for i in items] == ["API-1", "API-2"]
