"""Import of the 实名制 snapshot (kind `persons`): ID checks, all-or-nothing, replace per unit,
re-import is a no-op, work_elsewhere_since kept, audit with masked IDs."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select, update

from bot.db import Database
from bot.importing import ImportRejected, import_file
from bot.importing.fields import id_birth, id_sex, make_id_number, mask_id, parse_id_number
from handlers.staffing.import_persons import units_in_last_import
from models.audit import AuditEvent
from models.base import LOCAL_TZ
from models.staffing.persons import Person
from models.staffing.units import Unit

DEMO = Path(__file__).resolve().parents[2] / "bot" / "demo" / "persons.csv"
HEADERS = ["身份证号", "姓名", "性别", "出生日期", "所在单位", "实际工作单位", "编制类型", "是否领导职务",
           "领导职数层级", "正副", "退休类别", "弹性延迟退休至"]
MAN_1980 = make_id_number("33109919800115001")  # 男 (17th digit odd)
WOMAN_1985 = make_id_number("33109919850620002")  # 女
MAN_1990 = make_id_number("33109919900301003")
WOMAN_1975 = make_id_number("33109919750808004")


def write_csv(path: Path, headers: list[str], rows: list[list]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def row(idn: str, name: str, unit: str, staffing: str = "行政编制", **kw: str) -> list[str]:
    values = {"身份证号": idn, "姓名": name, "所在单位": unit, "编制类型": staffing, **kw}
    return [values.get(h, "") for h in HEADERS]


async def people(db: Database) -> dict[tuple[str, str], Person]:
    """(unit short name, 身份证号) → person."""
    async with db.read() as s:
        rows = (await s.exec(select(Person, Unit).join(Unit, Unit.id == Person.unit_id))).all()
    return {(u.short_name, p.id_number): p for p, u in rows}


async def unit_ids(db: Database) -> dict[str, int]:
    async with db.read() as s:
        return {u.short_name: u.id for u in (await s.exec(select(Unit))).all()}


async def audits(db: Database) -> list[AuditEvent]:
    async with db.read() as s:
        return list((await s.exec(select(AuditEvent).where(AuditEvent.entity == "person")
                                  .order_by(AuditEvent.id))).all())


def today() -> date:
    return datetime.now(LOCAL_TZ).date()


# --- ID numbers ---------------------------------------------------------------------------------

def test_id_number_parser_and_helpers():
    assert make_id_number("11010519491231002") == "11010519491231002X"  # the GB 11643 example
    assert parse_id_number("11010519491231002x") == "11010519491231002X"
    assert parse_id_number(" ３３１０９９１９８００１１５００１" + MAN_1980[-1]) == MAN_1980  # full-width digits
    assert id_birth(MAN_1980) == date(1980, 1, 15) and id_sex(MAN_1980) == "男" and id_sex(WOMAN_1985) == "女"
    wrong = MAN_1980[:17] + ("0" if MAN_1980[17] != "0" else "1")
    with pytest.raises(ValueError, match="校验位不正确"):
        parse_id_number(wrong)
    with pytest.raises(ValueError, match="应为18位"):
        parse_id_number(MAN_1980[:17])
    with pytest.raises(ValueError, match="出生日期“19800230”无效"):
        parse_id_number(make_id_number("33109919800230001"))
    with pytest.raises(ValueError, match="17位数字"):
        parse_id_number("3310991980011500X1")
    with pytest.raises(ValueError, match="Excel"):
        parse_id_number(3.31099198001150e17)
    with pytest.raises(ValueError, match="不合理"):
        parse_id_number(make_id_number("33109918800101001"))


def test_mask_id():
    assert mask_id("330102196401010011") == "3301**********0011"
    assert mask_id("11010519491231002X") == "1101**********002X"
    assert mask_id("12345678") == "12345678"


# --- the demo file ------------------------------------------------------------------------------

async def test_demo_file_imports_cleanly(demo_db):
    result = await import_file(demo_db, "persons", DEMO)
    assert (result.added, result.updated, result.unchanged) == (70, 0, 0)
    assert result.warnings == []
    ids = await unit_ids(demo_db)
    touched = {ids[s] for s in ("青山镇农服中心", "医保局", "社保中心", "团县委", "教育局", "县委办", "县疾控中心",
                                "县医院", "农业农村局", "融媒体中心")}
    assert units_in_last_import(result) == touched == result.unit_ids
    stored = await people(demo_db)
    assert len(stored) == 70
    by_name = {p.name: p for p in stored.values()}
    assert by_name["杜磊伟"].retirement_month == date(2024, 8, 1)  # 男 1964-08: 超龄未退
    assert by_name["杜琳红"].retirement_month == date(2027, 1, 1)  # 女干部 1971-08 +55y5m: 临退
    assert by_name["谢辉"].retirement_month == date(2026, 3, 1) and by_name["谢辉"].flexible_until == date(2028, 6, 30)
    assert by_name["白玲怡"].retirement_month == date(2028, 5, 1)  # 女处级60 override
    assert by_name["白玲怡"].retire_category == "女处级60"
    assert by_name["史雪梅"].retirement_month == date(2037, 5, 1)  # 工人 woman: 女工人 1983-03 +54y2m
    elsewhere = by_name["朱丽"]
    assert elsewhere.work_unit_id == ids["卫健局"] and elsewhere.work_elsewhere_since == today()
    assert sum(1 for p in stored.values() if p.name == "罗建斌") == 2  # one ID in two units is allowed
    assert all(p.work_unit_id is None for p in stored.values() if p.name != "朱丽")


# --- all or nothing -----------------------------------------------------------------------------

async def test_bad_rows_are_all_named_and_nothing_is_written(demo_db, tmp_path):
    bad_check = MAN_1990[:17] + ("0" if MAN_1990[17] != "0" else "1")
    rows = [
        row(bad_check, "甲", "教育局"),  # 2
        row(WOMAN_1985, "乙", "教育局", 性别="男", 出生日期="1985-06-21"),  # 3
        row(MAN_1980, "丙", "教育局", 是否领导职务="是", 正副="副职"),  # 4
        row(WOMAN_1975, "丁", "不存在局"),  # 5
        row(MAN_1980, "丙", "卫健局", 实际工作单位="哪里"),  # 6
        row(MAN_1980, "丙", "示例县教育局"),  # 7: the same ID twice in one unit
        row(WOMAN_1975, "戊", "卫健局", 退休类别="男", 编制类型="事业"),  # 8
        row(MAN_1990, "己", "卫健局", 是否领导职务="是", 领导职数层级="单位领导", 正副="正职"),  # 9: fine
    ]
    before = len(await audits(demo_db))
    with pytest.raises(ImportRejected) as exc:
        await import_file(demo_db, "persons", write_csv(tmp_path / "p.csv", HEADERS, rows))
    assert exc.value.lines == [
        "第2行 身份证号: 校验位不正确",
        "第3行 性别: “男”与身份证号不符（身份证号为女性）",
        "第3行 出生日期: 1985-06-21 与身份证号不符（身份证号为 1985-06-20）",
        "第4行 领导职数层级: 是否领导职务为“是”时必须填写",
        "第5行 所在单位: 找不到单位“不存在局”",
        "第6行 实际工作单位: 找不到单位“哪里”",
        "第7行 所在单位+身份证号: 与第4行重复",
        "第8行 编制类型: 未知编制类型“事业”（可选：行政编制、政法专项编制、事业编制、工勤编制）",
        "第8行 退休类别: “男”与性别“女”不符",
    ]
    assert await people(demo_db) == {}
    assert len(await audits(demo_db)) == before


async def test_missing_required_column(demo_db, tmp_path):
    path = write_csv(tmp_path / "p.csv", ["身份证号", "姓名", "所在单位"], [[MAN_1980, "甲", "教育局"]])
    with pytest.raises(ImportRejected) as exc:
        await import_file(demo_db, "persons", path)
    assert exc.value.lines == ["缺少必填列：编制类型"]


# --- replace semantics, re-import, audit --------------------------------------------------------

async def test_a_file_replaces_the_snapshot_of_its_units_only(demo_db, tmp_path):
    await import_file(demo_db, "persons", DEMO)
    before = await people(demo_db)
    ybj = sorted((k, p) for k, p in before.items() if k[0] == "医保局")
    assert len(ybj) == 8
    kept = [p for _, p in ybj[:5]]
    changed, gone = ybj[5][1], [p for _, p in ybj[6:]]
    rows = [row(p.id_number, p.name, "医保局", 是否领导职务="是" if p.is_leader else "否", 领导职数层级=p.leader_level,
                正副=p.leader_rank) for p in kept]
    rows.append(row(changed.id_number, changed.name + "新", "医保局", 是否领导职务="是" if changed.is_leader else "否",
                    领导职数层级=changed.leader_level, 正副=changed.leader_rank))
    rows.append(row(MAN_1990, "新来", "医保局"))
    # absent columns (人员类别, 职务名称 …) keep the stored values of people already listed
    result = await import_file(demo_db, "persons", write_csv(tmp_path / "ybj.csv", HEADERS, rows))
    assert (result.added, result.updated, result.unchanged) == (1, 1, 5)
    assert result.warnings == ["移出 2 人（所涉单位的原名单中有、本文件中没有）"]
    ids = await unit_ids(demo_db)
    assert units_in_last_import(result) == {ids["医保局"]}
    after = await people(demo_db)
    assert {k for k in after if k[0] == "医保局"} == {("医保局", p.id_number) for p in [*kept, changed]} | {
        ("医保局", MAN_1990)}
    assert after[("医保局", changed.id_number)].name == changed.name + "新"
    assert after[("医保局", kept[0].id_number)].post == kept[0].post  # kept, not blanked
    others = {k: (p.id, p.imported_at, p.name) for k, p in before.items() if k[0] != "医保局"}
    assert {k: (p.id, p.imported_at, p.name) for k, p in after.items() if k[0] != "医保局"} == others
    events = [e for e in await audits(demo_db) if "ybj.csv" in e.detail]
    assert sorted(e.action for e in events) == ["import.add", "import.remove", "import.remove", "import.update"]
    removed = sorted(e.entity_id for e in events if e.action == "import.remove")
    assert removed == sorted(mask_id(p.id_number) for p in gone)
    for e in events:  # a removal keeps what the table no longer holds; an addition names the person
        fields = json.loads(e.detail)["fields"]
        if e.action == "import.remove":
            person = next(p for p in gone if mask_id(p.id_number) == e.entity_id)
            assert fields["birth_date"] == person.birth_date.isoformat() and fields["name"] == person.name
            assert fields["staffing_type"] == person.staffing_type and fields["id_number"] == e.entity_id
        elif e.action == "import.add":
            assert fields == {"name": after[("医保局", MAN_1990)].name} and json.loads(e.detail)["row"] > 1
    for e in events:
        assert e.entity_id.count("*") == 10
        assert not any(p.id_number in e.detail for p in before.values()) and MAN_1990 not in e.detail


async def test_reimport_changes_nothing(demo_db):
    await import_file(demo_db, "persons", DEMO)
    before = {k: p.model_dump() for k, p in (await people(demo_db)).items()}
    events = len(await audits(demo_db))
    assert events == 70 and all(e.action == "import.add" for e in await audits(demo_db))
    result = await import_file(demo_db, "persons", DEMO)
    assert (result.added, result.updated, result.unchanged) == (0, 0, 70)
    assert result.warnings == []
    assert {k: p.model_dump() for k, p in (await people(demo_db)).items()} == before
    assert len(await audits(demo_db)) == events


async def test_removed_duplicate_reaches_the_other_unit(demo_db, tmp_path):
    """Removing the 县医院 copy of a person listed twice puts 县疾控中心 into the rescan set."""
    await import_file(demo_db, "persons", DEMO)
    stored = await people(demo_db)
    rows = [row(p.id_number, p.name, "县医院", "工勤编制" if p.staffing_type == "工勤编制" else "事业编制")
            for (unit, _), p in stored.items() if unit == "县医院" and p.name != "罗建斌"]
    result = await import_file(demo_db, "persons", write_csv(tmp_path / "h.csv", HEADERS, rows))
    ids = await unit_ids(demo_db)
    assert result.warnings == ["移出 1 人（所涉单位的原名单中有、本文件中没有）"]
    assert units_in_last_import(result) == {ids["县医院"], ids["县疾控中心"]}


async def test_work_elsewhere_since_is_kept(demo_db, tmp_path):
    ids = await unit_ids(demo_db)
    path = tmp_path / "p.csv"
    write_csv(path, HEADERS, [row(WOMAN_1985, "乙", "县疾控中心", "事业编制", 实际工作单位="卫健局"),
                              row(MAN_1980, "丙", "县疾控中心", "事业编制", 实际工作单位="县疾控中心")])
    await import_file(demo_db, "persons", path)
    stored = await people(demo_db)
    assert stored[("县疾控中心", WOMAN_1985)].work_elsewhere_since == today()
    assert stored[("县疾控中心", MAN_1980)].work_unit_id is None  # same as 所在单位 → none
    async with demo_db.write() as s:
        await s.exec(update(Person).where(Person.id_number == WOMAN_1985).values(
            work_elsewhere_since=date(2026, 1, 1)))
    result = await import_file(demo_db, "persons", path)
    assert (result.updated, result.unchanged) == (0, 2)
    assert (await people(demo_db))[("县疾控中心", WOMAN_1985)].work_elsewhere_since == date(2026, 1, 1)
    # moved on to a third unit: still working elsewhere since January
    write_csv(path, HEADERS, [row(WOMAN_1985, "乙", "县疾控中心", "事业编制", 实际工作单位="县医院")])
    result = await import_file(demo_db, "persons", path)
    assert (result.updated, result.warnings) == (1, ["移出 1 人（所涉单位的原名单中有、本文件中没有）"])
    person = (await people(demo_db))[("县疾控中心", WOMAN_1985)]
    assert (person.work_unit_id, person.work_elsewhere_since) == (ids["县医院"], date(2026, 1, 1))
    # back home, then away again: a new period starts today
    write_csv(path, HEADERS, [row(WOMAN_1985, "乙", "县疾控中心", "事业编制")])
    await import_file(demo_db, "persons", path)
    person = (await people(demo_db))[("县疾控中心", WOMAN_1985)]
    assert (person.work_unit_id, person.work_elsewhere_since) == (None, None)
    write_csv(path, HEADERS, [row(WOMAN_1985, "乙", "县疾控中心", "事业编制", 实际工作单位="卫健局")])
    await import_file(demo_db, "persons", path)
    assert (await people(demo_db))[("县疾控中心", WOMAN_1985)].work_elsewhere_since == today()


async def test_sex_and_birth_from_the_id_and_retirement_category(demo_db, tmp_path):
    rows = [row(WOMAN_1975, "丁", "教育局", 性别="女", 出生日期="1975/08/08"),
            row(MAN_1980, "丙", "教育局", 退休类别="其他"),
            row(WOMAN_1985, "乙", "县医院", "工勤编制")]
    result = await import_file(demo_db, "persons", write_csv(tmp_path / "p.csv", HEADERS, rows))
    assert result.added == 3
    async with demo_db.read() as s:
        count = (await s.exec(select(func.count()).select_from(Person))).one()
    assert count == 3
    stored = await people(demo_db)
    woman = stored[("教育局", WOMAN_1975)]
    # neither 人员类别 nor 身份: no retirement month (the 预警 scan reports 数据不全), never a silent 女干部
    assert (woman.sex, woman.birth_date, woman.retirement_month) == ("女", date(1975, 8, 8), None)
    assert stored[("教育局", MAN_1980)].retirement_month is None  # 其他: no automatic check
    worker = stored[("县医院", WOMAN_1985)]  # 工勤编制 without 身份 → 女工人: 1985-06 + 55y
    assert (worker.sex, worker.retirement_month) == ("女", date(2040, 6, 1))
