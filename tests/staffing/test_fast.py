"""Fast tier: the units and persons imports read and write through models/staffing (queries.py, ops.py)
on a copy of the demo county."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlmodel import select

from bot.importing import import_file
from bot.importing.fields import make_id_number, mask_id
from models.audit import AuditEvent
from models.staffing import queries
from models.staffing.snapshot import SnapshotWriter
from models.staffing.unit_match import match_units

HEADERS = ["身份证号", "姓名", "所在单位", "编制类型"]


def write(path: Path, rows: list[list[str]], headers: list[str] = HEADERS) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


async def test_a_persons_import_adds_updates_and_removes_through_the_model(fast, tmp_path, monkeypatch):
    db = fast.services.db
    ids = [make_id_number(f"3310991980011500{n}") for n in range(1, 5)]
    first = [[idn, name, "团县委", "行政编制"] for idn, name in zip(ids, "甲乙丙", strict=False)]
    assert (await import_file(db, "persons", write(tmp_path / "a.csv", first))).added == 3
    calls: list[tuple[str, int]] = []
    for name in ("add", "update", "remove"):
        monkeypatch.setattr(SnapshotWriter, name, _spy(calls, name, getattr(SnapshotWriter, name)))
    rows = [[ids[0], "甲二", "团县委", "行政编制"], [ids[3], "丁", "团县委", "行政编制"]]
    result = await import_file(db, "persons", write(tmp_path / "b.csv", rows))
    assert (result.added, result.updated) == (1, 1)
    assert sorted(calls) == [("add", 1), ("remove", 2), ("update", 1)]
    async with db.read() as session:
        unit = (await match_units(session, "团县委"))[0]
        assert unit.id is not None
        after = await queries.persons_of_units(session, unit_ids=[unit.id])
        holding = await queries.units_holding(session, id_numbers={ids[3]})
        removed = (await session.exec(select(AuditEvent).where(AuditEvent.action == "import.remove"))).all()
    assert {(p.id_number, p.name) for p in after} == {(ids[0], "甲二"), (ids[3], "丁")} and holding == {unit.id}
    assert sorted(r.entity_id for r in removed) == sorted([mask_id(ids[1]), mask_id(ids[2])])
    again = await import_file(db, "persons", write(tmp_path / "c.csv", rows))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)  # a re-import changes nothing


def _spy(calls: list[tuple[str, int]], name: str, real):
    """Counts the persons each SnapshotWriter write is given (a chunk's batch, not one call per person)."""
    async def spy(self, batch, audits):
        if batch:
            calls.append((name, len(batch)))
        return await real(self, batch, audits)
    return spy


async def test_the_units_import_reads_the_units_through_the_model(fast, tmp_path):
    db = fast.services.db
    async with db.read() as session:
        units = await queries.all_units(session)
        first = units[0]
        assert first.id is not None
        same = await queries.unit_by_id(session, unit_id=first.id)
    assert same is not None and same.uscc == first.uscc
    headers = ["统一社会信用代码", "单位名称", "单位类别"]
    path = write(tmp_path / "u.csv", [[first.uscc, first.name, first.kind]], headers)
    result = await import_file(db, "units", path)
    assert (result.added, result.updated, result.unchanged) == (0, 0, 1)
