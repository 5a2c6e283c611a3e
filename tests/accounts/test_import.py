"""File import of units and accounts (docs/import-formats.md)."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func
from sqlmodel import select

from bot.db import Database
from bot.importing import ImportRejected, import_file
from bot.importing.fields import make_uscc, parse_date, parse_uscc
from models.accounts.roles import Role
from models.accounts.tables import Account
from models.audit import AuditEvent
from models.staffing.units import Unit

DEMO = Path(__file__).resolve().parents[2] / "bot" / "demo"
UNIT_HEADERS = ["单位名称", "单位简称", "统一社会信用代码", "单位类别", "是否参公", "行政编制", "更新日期"]
ACCOUNT_HEADERS = ["钉钉用户ID", "姓名", "角色", "所属单位", "手机号"]
EDU = make_uscc("11331099MB0000001")
HEALTH = make_uscc("11331099MB0000002")
MEDIA = make_uscc("12331099MB0000003")


def write_csv(path: Path, headers: list[str], rows: list[list], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def unit_rows() -> list[list]:
    return [
        ["示例县教育局", "教育局", EDU, "党政机关", "否", "15", "2026-11-23"],
        ["示例县卫生健康局", "卫健局", HEALTH, "党政机关", "否", "14", "2026/11/23"],
        ["示例县融媒体中心", "融媒体中心", MEDIA, "事业单位", "是", "0", "2026年11月23日"],
    ]


async def all_units(db: Database) -> dict[str, Unit]:
    async with db.read() as s:
        return {u.uscc: u for u in (await s.exec(select(Unit))).all()}


async def all_accounts(db: Database) -> dict[str, Account]:
    async with db.read() as s:
        return {a.user_id: a for a in (await s.exec(select(Account))).all()}


async def audit_count(db: Database) -> int:
    async with db.read() as s:
        return (await s.exec(select(func.count()).select_from(AuditEvent))).one()


async def import_units(db: Database, tmp_path: Path) -> None:
    await import_file(db, "units", write_csv(tmp_path / "u.csv", UNIT_HEADERS, unit_rows()))


# --- pure parsers -------------------------------------------------------------------------------

def test_uscc_check_digit_of_real_code():
    assert parse_uscc("91350100M000100Y43") == "91350100M000100Y43"
    assert parse_uscc("91350100m000100y43") == "91350100M000100Y43"
    with pytest.raises(ValueError, match="校验位不正确"):
        parse_uscc("91350100M000100Y44")
    with pytest.raises(ValueError, match="18位"):
        parse_uscc("91350100M000100Y4")


def test_make_uscc():
    assert make_uscc("91350100M000100Y4") == "91350100M000100Y43"
    code = make_uscc("11331099MB0000001")
    assert len(code) == 18 and parse_uscc(code) == code


def test_date_formats():
    for raw in ("2026-11-23", "2026/11/23", "2026年11月23日", "20261123", "2026-11-23 09:30",
                "２０２６-１１-２３", datetime(2026, 11, 23, 9, 30), date(2026, 11, 23)):
        assert parse_date(raw) == date(2026, 11, 23), raw
    with pytest.raises(ValueError):
        parse_date("2026-02-30")


# --- units --------------------------------------------------------------------------------------

async def test_units_csv_utf8_bom(db, tmp_path):
    result = await import_file(db, "units", write_csv(tmp_path / "u.csv", UNIT_HEADERS, unit_rows()))
    assert (result.added, result.updated, result.unchanged) == (3, 0, 0)
    assert result.summary() == "单位导入完成：新增 3，更新 0，未变 0"
    assert result.warnings == []
    units = await all_units(db)
    assert units[EDU].short_name == "教育局" and units[EDU].est_admin == 15
    assert units[MEDIA].is_cangong and units[MEDIA].kind == "事业单位"
    assert {u.data_updated_on for u in units.values()} == {date(2026, 11, 23)}
    assert units[EDU].updated_at.tzinfo is not None
    assert await audit_count(db) == 3


async def test_units_csv_gbk(db, tmp_path):
    path = write_csv(tmp_path / "u.csv", UNIT_HEADERS, unit_rows(), encoding="gbk")
    result = await import_file(db, "units", path)
    assert result.added == 3
    assert (await all_units(db))[HEALTH].name == "示例县卫生健康局"


async def test_units_xlsx_with_date_and_int_cells(db, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(UNIT_HEADERS)
    ws.append(["示例县教育局", "教育局", EDU, "党政机关", "否", 15, date(2026, 11, 23)])
    ws.append([])
    ws.append(["示例县卫生健康局", "卫健局", HEALTH, "党政机关", None, 14.0, datetime(2026, 11, 20, 9, 30)])
    wb.save(tmp_path / "u.xlsx")
    result = await import_file(db, "units", tmp_path / "u.xlsx")
    assert result.added == 2
    units = await all_units(db)
    assert units[EDU].est_admin == 15 and units[EDU].data_updated_on == date(2026, 11, 23)
    assert units[HEALTH].est_admin == 14 and units[HEALTH].data_updated_on == date(2026, 11, 20)


async def test_full_width_normalised(db, tmp_path):
    wide_uscc = EDU.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    rows = [["　示例县教育局　", "教育局", wide_uscc, "党政机关", "否", "１５", "２０２６－１１－２３"]]
    await import_file(db, "units", write_csv(tmp_path / "u.csv", UNIT_HEADERS, rows))
    unit = (await all_units(db))[EDU]
    assert (unit.name, unit.est_admin, unit.data_updated_on) == ("示例县教育局", 15, date(2026, 11, 23))


async def test_extra_columns_one_warning(db, tmp_path):
    headers = [*UNIT_HEADERS, "备注", "联系人"]
    rows = [[*r, "x", "y"] for r in unit_rows()]
    result = await import_file(db, "units", write_csv(tmp_path / "u.csv", headers, rows))
    assert result.warnings == ["已忽略无法识别的列：备注、联系人"]
    assert result.added == 3


async def test_reimport_changes_nothing(db, tmp_path):
    path = write_csv(tmp_path / "u.csv", UNIT_HEADERS, unit_rows())
    await import_file(db, "units", path)
    before = {k: u.updated_at for k, u in (await all_units(db)).items()}
    audits = await audit_count(db)
    result = await import_file(db, "units", path)
    assert (result.added, result.updated, result.unchanged) == (0, 0, 3)
    assert {k: u.updated_at for k, u in (await all_units(db)).items()} == before
    assert await audit_count(db) == audits


async def test_changed_row_is_updated_and_audited(db, tmp_path):
    await import_units(db, tmp_path)
    rows = unit_rows()
    rows[0][5] = "16"
    result = await import_file(db, "units", write_csv(tmp_path / "u2.csv", UNIT_HEADERS, rows))
    assert (result.added, result.updated, result.unchanged) == (0, 1, 2)
    async with db.read() as s:
        event = (await s.exec(select(AuditEvent).where(AuditEvent.action == "import.update"))).one()
    assert event.entity == "unit" and event.entity_id == EDU and "est_admin" in event.detail


async def test_bad_units_rejected_whole_file(db, tmp_path):
    bad_check = EDU[:17] + ("0" if EDU[17] != "0" else "1")
    rows = [
        ["示例县教育局", "教育局", EDU, "党政机关", "否", "15", "2026-11-23"],  # good, row 2
        ["示例县财政局", "财政局", bad_check, "党政机关", "否", "1", ""],  # row 3
        ["示例县团委", "团县委", HEALTH, "人民团体", "否", "1", ""],  # row 4
        ["示例县融媒体中心", "融媒体中心", MEDIA, "事业单位", "是", "-2", "2026-13-01"],  # row 5
        ["", "无名", make_uscc("11331099MB0000009"), "党政机关", "否", "", ""],  # row 6
        ["示例县教育局", "", make_uscc("11331099MB0000010"), "党政机关", "否", "", ""],  # row 7
    ]
    with pytest.raises(ImportRejected) as exc:
        await import_file(db, "units", write_csv(tmp_path / "u.csv", UNIT_HEADERS, rows))
    assert exc.value.lines == [
        "第3行 统一社会信用代码: 校验位不正确",
        "第4行 单位类别: 未知单位类别“人民团体”（可选：党政机关、事业单位、群团机关）",
        "第5行 行政编制: 不能为负数",
        "第5行 更新日期: 无效的日期“2026-13-01”",
        "第6行 单位名称: 不能为空",
        "第7行 单位名称: 与第2行重复",
    ]
    assert await all_units(db) == {}
    assert await audit_count(db) == 0


async def test_name_of_another_existing_unit_rejected(db, tmp_path):
    await import_units(db, tmp_path)
    rows = [["示例县教育局", "", make_uscc("11331099MB0000011"), "党政机关", "否", "", ""]]
    with pytest.raises(ImportRejected) as exc:
        await import_file(db, "units", write_csv(tmp_path / "u2.csv", UNIT_HEADERS, rows))
    assert exc.value.lines == [f"第2行 单位名称: 已是另一单位的名称（统一社会信用代码 {EDU}）"]


async def test_absent_columns_keep_stored_values(db, tmp_path):
    await import_units(db, tmp_path)
    rows = [["示例县教育局", EDU, "党政机关"]]
    headers = ["单位名称", "统一社会信用代码", "单位类别"]
    result = await import_file(db, "units", write_csv(tmp_path / "u2.csv", headers, rows))
    assert (result.updated, result.unchanged) == (0, 1)
    assert (await all_units(db))[EDU].est_admin == 15


async def test_missing_header_unknown_kind_and_file(db, tmp_path):
    path = write_csv(tmp_path / "u.csv", ["单位名称", "单位简称"], [["示例县教育局", "教育局"]])
    with pytest.raises(ImportRejected) as exc:
        await import_file(db, "units", path)
    assert exc.value.lines == ["缺少必填列：统一社会信用代码、单位类别"]
    with pytest.raises(ImportRejected, match=r"未知的导入类型.*目前支持：units（单位）、accounts（账号）"):
        await import_file(db, "bogus", path)
    with pytest.raises(ImportRejected, match="找不到文件"):
        await import_file(db, "units", tmp_path / "nope.csv")
    (tmp_path / "u.pdf").write_text("x")
    with pytest.raises(ImportRejected, match="不支持的文件类型"):
        await import_file(db, "units", tmp_path / "u.pdf")


# --- accounts -----------------------------------------------------------------------------------

async def test_accounts_resolve_units_by_name_short_and_uscc(db, tmp_path):
    await import_units(db, tmp_path)
    rows = [
        ["u1", "王芳", "单位联络员", "示例县教育局", "139 0000 0101"],
        ["u2", "刘洋", "单位负责人，单位联络员", "卫健局", ""],
        ["u3", "黄丽", "单位联络员", MEDIA.lower(), ""],
        ["u4", "李明", "编办业务员", "", ""],
    ]
    result = await import_file(db, "accounts", write_csv(tmp_path / "a.csv", ACCOUNT_HEADERS, rows))
    assert result.summary() == "账号导入完成：新增 4，更新 0，未变 0"
    units = await all_units(db)
    accounts = await all_accounts(db)
    assert accounts["u1"].unit_id == units[EDU].id and accounts["u1"].mobile == "13900000101"
    assert accounts["u2"].unit_id == units[HEALTH].id
    assert accounts["u2"].roles == "unit_contact,unit_leader"
    assert accounts["u3"].unit_id == units[MEDIA].id
    assert accounts["u4"].unit_id is None and accounts["u4"].roles == "office_staff"


async def test_bad_accounts_rejected_whole_file(db, tmp_path):
    await import_units(db, tmp_path)
    rows = [
        ["u1", "王芳", "单位联络员", "教育局", ""],  # good, row 2
        ["u2", "刘洋", "局长", "卫健局", ""],  # row 3
        ["u3", "黄丽", "单位联络员", "县医院", ""],  # row 4
        ["u4", "", "单位负责人", "", "12345"],  # row 5
        ["u1", "李明", "编办业务员", "", ""],  # row 6
    ]
    with pytest.raises(ImportRejected) as exc:
        await import_file(db, "accounts", write_csv(tmp_path / "a.csv", ACCOUNT_HEADERS, rows))
    assert exc.value.lines == [
        "第3行 角色: 未知角色“局长”（可选：单位联络员、单位负责人、编办业务员、编办领导、监督员、管理员）",
        "第4行 所属单位: 找不到单位“县医院”",
        "第5行 姓名: 不能为空",
        "第5行 手机号: 应为11位手机号，而不是“12345”",
        "第5行 所属单位: 单位负责人必须填写所属单位",
        "第6行 钉钉用户ID: 与第2行重复",
    ]
    assert await all_accounts(db) == {}


# --- demo data ----------------------------------------------------------------------------------

async def test_demo_files_import_cleanly(db):
    units = await import_file(db, "units", DEMO / "units.csv")
    assert units.warnings == [] and units.updated == 0
    assert 25 <= units.added <= 35
    accounts = await import_file(db, "accounts", DEMO / "accounts.csv")
    assert accounts.warnings == [] and accounts.added >= 15
    roles = {code for a in (await all_accounts(db)).values() for code in a.role_codes}
    assert roles == {r.value for r in Role}
    for kind in ("units", "accounts"):
        again = await import_file(db, kind, DEMO / f"{kind}.csv")
        assert (again.added, again.updated) == (0, 0)


def test_import_formats_are_documented_in_the_repository():
    """docs/import-formats.md lists every import kind, every column and every allowed value; the README
    links it (and docs/operations.md) and points at nothing outside the repository."""
    import re

    from bot.importing import KINDS
    from handlers.staffing.import_persons import IDENTITIES, PERSON_KINDS
    from models.accounts.roles import ROLE_LABELS
    from models.approvals.tables import STATUSES as APPROVAL_STATUSES
    from models.approvals.tables import TYPES
    from models.rectification.tables import SOURCES, STATUSES
    from models.staffing.persons import LEADER_LEVELS, LEADER_RANKS, STAFFING_TYPES
    from models.staffing.retirement import CATEGORIES
    from models.staffing.units import UNIT_KINDS

    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "import-formats.md").read_text(encoding="utf-8")
    for kind, spec in KINDS.items():
        section = doc.split(f"## {kind} ")[1].split("\n## ")[0]
        for header in spec.headers:
            assert f"| {header}" in section or f"、{header}" in section, (kind, header)
        for header in spec.required:
            assert re.search(rf"(\| |、){re.escape(header)}\*", section), (kind, header)
    for value in (*ROLE_LABELS.values(), *UNIT_KINDS, *STAFFING_TYPES, *SOURCES, *STATUSES, *TYPES,
                  *APPROVAL_STATUSES, *PERSON_KINDS, *IDENTITIES, *LEADER_LEVELS, *LEADER_RANKS, *CATEGORIES):
        assert value in doc, value
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "shared/" not in readme
    for link in ("docs/import-formats.md", "docs/operations.md"):
        assert f"]({link})" in readme and (root / link).is_file()
    assert "import groups" in readme and "python -m bot import" not in readme  # every example has -c
    for kind in KINDS:
        assert f"`{kind}`" in readme.split("目前支持")[1].split("\n\n")[0], kind
