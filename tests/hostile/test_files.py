"""Hostile files: bad files of every import kind write nothing and say where the problem is;
duplicate keys are reported in one pass (first few rows and a count); formulas are never evaluated
on the way in and never written on the way out (every export goes through bot.xlsx_text)."""

from __future__ import annotations

import csv
import random
import re
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func
from sqlmodel import SQLModel, select

from bot.db import Database
from bot.importing import KINDS, ImportRejected, import_file
from bot.importing.base import DUPLICATES_SHOWN
from bot.importing.fields import make_uscc
from tests.conftest import Chat, FakeClock, beijing
from tests.hostile.cases import leaks

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "bot" / "demo"

# One valid row of every import kind (on the demo data). A new kind fails the suite until it has one.
SAMPLES: dict[str, dict[str, str]] = {
    "units": {"单位名称": "示例县测试中心", "单位简称": "测试中心", "统一社会信用代码": make_uscc("12331099MB0000999"),
              "单位类别": "事业单位", "是否参公": "否", "事业编制": "5"},
    "accounts": {"钉钉用户ID": "hostile1", "姓名": "测试员", "角色": "单位联络员", "所属单位": "教育局"},
    "holidays": {"日期": "2027-05-06", "类型": "休息日", "说明": "测试"},
    "problems": {"问题编号": "ZG-2026-0901", "所属单位": "教育局", "问题来源": "巡察", "问题描述": "测试问题",
                 "交办日期": "2026-11-02", "整改期限": "2026-12-31"},
    "persons": {"身份证号": "331099198209171018", "姓名": "史飞", "性别": "男",
                "所在单位": "示例县青山镇农业综合服务中心", "编制类型": "事业编制", "人员类别": "事业管理",
                "身份": "干部"},
    "groups": {"组名": "测试组", "组长": "bb_ld1", "组员": "bb_ywy1"},
    "approvals": {"事项编号": "SP-901", "所属单位": "教育局", "业务类型": "用编核准", "事项名称": "测试",
                  "提交时间": "2026-11-16", "当前环节": "受理"},
    "indicators": {"指标名称": "测试指标", "类别": "共性", "监管方式": "日常监管", "满分": "5", "计分规则": "人工"},
    "scores": {"单位": "教育局", "指标": "测试指标", "得分": "4", "依据": "测试", "年度": "2026"},
    "complaints": {"日期": "2026-10-08", "单位": "教育局", "类别": "12345热线", "摘要": "测试投诉"},
}
ROW_LINE = re.compile(r"^第(\d+)行 (\S+): ")
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_kind_has_a_sample_row_and_unique_keys():
    assert sorted(SAMPLES) == sorted(KINDS)  # a new import kind must be added to this suite
    for kind, spec in KINDS.items():
        assert spec.keys, f"{kind}: declare the columns unique within a file (KindSpec.keys)"
        assert all(h in spec.headers for key in spec.keys for h in key)
        assert all(h in SAMPLES[kind] for h in spec.required), kind


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", newline="", encoding=encoding) as f:
        csv.writer(f).writerows([header, *rows])
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list[object]], formula_at: tuple[int, int] | None = None,
               text_cells: bool = True) -> Path:
    book = Workbook()
    ws = book.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    for r in ws.iter_rows(min_row=2):
        for cell in r:
            if text_cells and isinstance(cell.value, str):
                cell.data_type = "s"  # a text cell, even when it starts with "="
    if formula_at is not None:
        ws.cell(*formula_at).value = "=HYPERLINK(\"http://evil.example\",\"点我\")"  # a real formula cell
    book.save(path)
    return path


def bad_files(kind: str, tmp: Path) -> list[tuple[str, Path, str]]:
    """(name, file, what the answer must name) for one kind."""
    sample = SAMPLES[kind]
    header, row = list(sample), list(sample.values())
    first_required = KINDS[kind].required[0]
    key = KINDS[kind].keys[0]
    rng = random.Random(kind)
    return [
        ("wrong header", write_csv(tmp / "header.csv", [h + "X" for h in header], [row]), first_required),
        ("no header, only data", write_csv(tmp / "data.csv", row, [row]), first_required),
        ("UTF-16", write_csv(tmp / "utf16.csv", header, [row], encoding="utf-16"), ""),
        ("binary garbage csv", _bytes(tmp / "garbage.csv", bytes(rng.randrange(256) for _ in range(4000))), ""),
        ("binary garbage xlsx", _bytes(tmp / "garbage.xlsx", bytes(rng.randrange(256) for _ in range(4000))), ""),
        ("a zip that is not a workbook", _bytes(tmp / "zip.xlsx", b"PK\x03\x04" + b"\x00" * 200), ""),
        ("empty csv", _bytes(tmp / "empty.csv", b""), ""),
        ("empty xlsx", _bytes(tmp / "empty.xlsx", b""), ""),
        ("only blank lines", _bytes(tmp / "blank.csv", b"\n\n ,,\n"), ""),
        ("old xls", _bytes(tmp / "old.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 100), ""),
        ("formula cell", write_xlsx(tmp / "formula.xlsx", header, [row, row[:]], formula_at=(3, 1)),
         f"第3行 {header[0]}: 单元格是公式"),
        ("duplicate keys", write_csv(tmp / "dups.csv", header, [row] * 40), f"第3行 {'+'.join(key)}: 与第2行重复"),
    ]


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


async def snapshot(db: Database) -> dict[str, int]:
    async with db.read() as session:
        return {t.name: (await session.exec(select(func.count()).select_from(t))).one()
                for t in SQLModel.metadata.sorted_tables}


async def test_bad_files_of_every_kind_write_nothing_and_say_where(demo_db, tmp_path):
    before = await snapshot(demo_db)
    wrong, tried = [], 0
    for kind in KINDS:
        folder = tmp_path / kind
        folder.mkdir()
        for name, path, must_name in bad_files(kind, folder):
            tried += 1
            try:
                await import_file(demo_db, kind, path)
            except ImportRejected as rejected:
                text = "\n".join(rejected.lines)
                if not rejected.lines or not CJK.search(text) or leaks(text) or (must_name and must_name not in text):
                    wrong.append((kind, name, text[:300]))
            except Exception as exc:  # a crash is a failure of the suite, not of the file
                wrong.append((kind, name, f"crashed: {type(exc).__name__}: {exc}"))
            else:
                wrong.append((kind, name, "accepted"))
    assert wrong == []
    assert tried == 12 * len(KINDS)
    assert await snapshot(demo_db) == before


async def test_duplicates_are_listed_first_few_with_a_count(demo_db, tmp_path):
    for kind, sample in SAMPLES.items():
        path = write_csv(tmp_path / f"{kind}.csv", list(sample), [list(sample.values())] * 500)
        with pytest.raises(ImportRejected) as exc:
            await import_file(demo_db, kind, path)
        lines = exc.value.lines
        dup_lines = [line for line in lines if "与第2行重复" in line]
        assert [int(ROW_LINE.match(line).group(1)) for line in dup_lines] == list(range(3, 3 + DUPLICATES_SHOWN))
        assert lines[-1] == f"……共 499 行与前面的行重复（只列出前 {DUPLICATES_SHOWN} 行）", kind
        assert len(lines) <= DUPLICATES_SHOWN + 5, kind  # not one line per copy


async def test_a_formula_is_refused_and_text_that_starts_with_equals_is_kept(demo_db, tmp_path):
    header = list(SAMPLES["persons"])
    evil = "=HYPERLINK(\"http://evil.example\",\"点我\")"
    row = dict(SAMPLES["persons"], 姓名=evil)
    await import_file(demo_db, "persons", write_xlsx(tmp_path / "p.xlsx", header, [list(row.values())]))
    from models import Person

    async with demo_db.read() as session:
        person = (await session.exec(select(Person).where(Person.id_number == row["身份证号"]))).one()
    assert person.name == evil  # kept as the text the user typed
    evil_csv = "=cmd|' /C calc'!A0"
    problem = dict(SAMPLES["problems"], 问题描述=evil_csv)
    await import_file(demo_db, "problems", write_csv(tmp_path / "p.csv", list(problem), [list(problem.values())]))
    from models import Problem

    async with demo_db.read() as session:
        stored = (await session.exec(select(Problem).where(Problem.number == "ZG-2026-0901"))).one()
    assert stored.description == evil_csv
    # a real formula cell is never evaluated nor taken from its cached value: the file is refused
    with pytest.raises(ImportRejected) as exc:
        await import_file(demo_db, "persons", write_xlsx(tmp_path / "f.xlsx", header, [list(row.values())],
                                                         formula_at=(2, 2)))
    assert exc.value.lines == ["第2行 姓名: 单元格是公式（=HYPERLINK(\"http://evil.exampl），请改为文本或数值后再导入"]


# -- exports ---------------------------------------------------------------------------------------------

EVIL_UNIT = "=HYPERLINK(\"http://evil.example\",\"教育局\")"
EVIL_DESCRIPTION = "=cmd|' /C calc'!A0"
EVIL_REQUIREMENT = "@SUM(1+1)*cmd|' /C calc'!A0"


def cells_of(data: bytes) -> list:
    book = load_workbook(BytesIO(data))
    return [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]


async def test_exports_write_user_text_as_text_never_a_formula(make_bot, demo_db, emulator, tmp_path):
    await import_file(demo_db, "groups", DEMO / "groups.csv")
    units = list(csv.reader((DEMO / "units.csv").open(encoding="utf-8-sig")))
    i = next(n for n, r in enumerate(units) if r[1] == "教育局")
    units[i][0] = EVIL_UNIT  # an imported unit name that looks like a formula
    await import_file(demo_db, "units", write_csv(tmp_path / "units.csv", units[0], units[1:]))
    await make_bot(clock=FakeClock(beijing("2026-11-23 10:00")))
    chat = Chat(emulator)
    reply = await chat.say("bb_ywy1", f"交办 教育局 巡察 10个工作日 {EVIL_DESCRIPTION}；要求：{EVIL_REQUIREMENT}")
    assert "ZG-" in reply.text, reply.text
    await chat.say("bb_ywy1", "生成走访计划 2027")
    files = []
    for command in ("导出台账", "导出走访计划"):
        before = len(emulator.pushes_to("bb_ld1"))
        assert "已生成" in (await chat.say("bb_ld1", command)).text
        pushes = await emulator.wait_push("bb_ld1", before + 1)
        files.append(emulator.media[pushes[-1].param["mediaId"]][1])
    ledger, roster = (cells_of(data) for data in files)
    for cells, expected in ((ledger, {EVIL_UNIT, EVIL_DESCRIPTION, EVIL_REQUIREMENT}), (roster, {EVIL_UNIT})):
        assert [c.coordinate for c in cells if c.data_type == "f"] == []  # no formula anywhere
        texts = {c.value for c in cells if isinstance(c.value, str)}
        assert expected <= texts
        assert all(c.quotePrefix for c in cells if c.value in expected)  # stays text when edited in Excel


def test_every_workbook_is_built_through_the_text_helper():
    """A new export must build its cells with bot.xlsx_text (so user text is never a formula)."""
    builders = [p for folder in ("bot", "handlers", "jobs", "models") for p in (ROOT / folder).rglob("*.py")
                if "Workbook(" in p.read_text(encoding="utf-8")]
    assert builders, "no export found"
    assert [p.relative_to(ROOT).as_posix() for p in builders if "xlsx_text" not in p.read_text(encoding="utf-8")
            and p.name != "xlsx_text.py"] == []
