"""The persons import at scale works a chunk at a time (handlers.staffing.import_persons.CHUNK), writing
one chunk while it checks the next. With chunks of two rows these tests cross every boundary: repeats
of a person added or stored earlier name the first row, a late bad row leaves nothing written, 移出
and the units touched are those of the whole file, on SQLite and PostgreSQL (demo_db)."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlmodel import select

import handlers.staffing.import_persons as kind
from bot.importing import ImportRejected, import_file
from bot.importing.fields import make_id_number
from models.audit import AuditEvent
from models.staffing.persons import Person
from tests.staffing.test_import_persons import HEADERS, row, unit_ids, write_csv

IDS = [make_id_number(f"331099198{n}0115{n:03d}") for n in range(1, 10)]  # odd 17th digit: 男


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(kind, "CHUNK", 2)


async def counts(db) -> tuple[int, int]:
    async with db.read() as s:
        persons = (await s.exec(select(func.count()).select_from(Person))).one()
        audits = (await s.exec(select(func.count()).select_from(AuditEvent))).one()
    return persons, audits


async def test_repeats_across_chunks_name_the_first_row_and_nothing_is_written(demo_db, tmp_path):
    before = await counts(demo_db)
    rows = [row(IDS[0], "甲", "教育局"), row(IDS[1], "乙", "教育局"),  # rows 2, 3: chunk 1
            row(IDS[2], "丙", "教育局"), row(IDS[1], "乙", "示例县教育局"),  # 5 repeats 3: the chunk before
            row(IDS[3], "丁", "教育局"), row(IDS[3], "丁", "教育局"),  # 7 repeats 6: the same chunk
            row(IDS[0], "甲", "教育局"), row(IDS[5], "己", "卫健局"),  # 8 repeats 2: written chunks before
            row(IDS[5], "己", "卫健局")]  # 10 repeats 9: the chunk before
    with pytest.raises(ImportRejected) as exc:
        await import_file(demo_db, "persons", write_csv(tmp_path / "p.csv", HEADERS, rows))
    pairs = ((5, 3), (7, 6), (8, 2), (10, 9))
    assert exc.value.lines == [f"第{n}行 所在单位+身份证号: 与第{m}行重复" for n, m in pairs]
    assert await counts(demo_db) == before


async def test_a_stored_person_listed_twice_in_a_reimport_is_a_repeat(demo_db, tmp_path):
    first = [row(idn, f"人{n}", "教育局") for n, idn in enumerate(IDS[:5])]
    assert (await import_file(demo_db, "persons", write_csv(tmp_path / "a.csv", HEADERS, first))).added == 5
    before = await counts(demo_db)
    again = [*first, row(IDS[1], "人1改", "教育局")]  # row 7 lists the stored person of row 3 again
    with pytest.raises(ImportRejected) as exc:
        await import_file(demo_db, "persons", write_csv(tmp_path / "b.csv", HEADERS, again))
    assert exc.value.lines == ["第7行 所在单位+身份证号: 与第3行重复"]
    assert await counts(demo_db) == before


async def test_a_late_bad_row_rolls_back_every_chunk_already_written(demo_db, tmp_path):
    before = await counts(demo_db)
    rows = [row(idn, f"人{n}", "教育局") for n, idn in enumerate(IDS[:7])]
    rows.append(row(IDS[7][:17] + ("0" if IDS[7][17] != "0" else "1"), "坏", "教育局"))  # row 9: check digit
    rows.append(row(IDS[8], "也坏", "不存在局"))  # row 10: unknown unit
    with pytest.raises(ImportRejected) as exc:
        await import_file(demo_db, "persons", write_csv(tmp_path / "p.csv", HEADERS, rows))
    assert exc.value.lines == ["第9行 身份证号: 校验位不正确", "第10行 所在单位: 找不到单位“不存在局”"]
    assert await counts(demo_db) == before


async def test_removals_and_touched_units_cover_the_whole_file(demo_db, tmp_path):
    ids = await unit_ids(demo_db)
    first = [row(idn, f"人{n}", "教育局" if n % 2 else "卫健局") for n, idn in enumerate(IDS[:8])]
    await import_file(demo_db, "persons", write_csv(tmp_path / "a.csv", HEADERS, first))
    kept = [r for n, r in enumerate(first) if n not in (1, 6)]  # one of each unit is gone
    result = await import_file(demo_db, "persons", write_csv(tmp_path / "b.csv", HEADERS, kept))
    assert (result.added, result.updated, result.unchanged) == (0, 0, 6)
    assert any("移出 2 人" in w for w in result.warnings)
    assert kind.units_in_last_import(result) >= {ids["教育局"], ids["卫健局"]}
    async with demo_db.read() as s:
        left = set((await s.exec(select(Person.id_number).where(Person.id_number.in_(IDS)))).all())
    assert left == set(IDS[:8]) - {IDS[1], IDS[6]}
