"""Issue 12, items 1-7: the 预警 rules an office would dispute, on hand-checked files imported through
the real import path, scanned, and read back in the chat (`预警`, `编制`). Rules: docs/rules.md."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select, update

from bot.importing import ImportRejected, import_file
from bot.importing.fields import make_id_number, make_uscc
from jobs.warnings import scan_warnings
from models import Person, Unit, Warning
from tests.conftest import Chat, FakeClock, beijing

NOW = "2026-11-23 10:00"
UNIT_HEADERS = ["单位名称", "单位简称", "统一社会信用代码", "单位类别", "是否参公", "行政编制", "事业编制", "工勤编制",
                "单位领导正职职数", "单位领导副职职数", "更新日期"]
PERSON_HEADERS = ["身份证号", "姓名", "所在单位", "实际工作单位", "借调/挂职开始日期", "编制类型", "人员类别", "身份",
                  "是否领导职务", "领导职数层级", "正副", "人员状态"]
ORGAN = make_uscc("11331099MD0000001")  # 党政机关
CANGONG = make_uscc("12331099MD0000002")  # 参公事业单位
CANGONG2 = make_uscc("12331099MD0000003")
MASS = make_uscc("13331099MD0000004")  # 群团机关
MISCODED = make_uscc("11331099MD0000005")  # an 事业单位 whose code starts with 11


def idn(born: str, seq: str) -> str:
    """A valid 身份证号: born `YYYYMMDD`, `seq` 3 digits (odd last digit = 男, even = 女)."""
    return make_id_number("330102" + born + seq)


def write_csv(path: Path, headers: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows([[r.get(h, "") for h in headers] for r in rows])
    return path


def unit(name: str, short: str, code: str, kind: str, **kw: str) -> dict[str, str]:
    return {"单位名称": name, "单位简称": short, "统一社会信用代码": code, "单位类别": kind, "是否参公": "否",
            "更新日期": "2026-11-20", **kw}


def person(id_number: str, name: str, unit_ref: str, staffing: str, **kw: str) -> dict[str, str]:
    return {"身份证号": id_number, "姓名": name, "所在单位": unit_ref, "编制类型": staffing, **kw}


@pytest.fixture
async def app(make_bot):
    return await make_bot(clock=FakeClock(beijing(NOW)))


async def load(app, tmp_path: Path, units: list[dict[str, str]], people: list[dict[str, str]]):
    u = await import_file(app.db, "units", write_csv(tmp_path / "u.csv", UNIT_HEADERS, units))
    p = await import_file(app.db, "persons", write_csv(tmp_path / "p.csv", PERSON_HEADERS, people))
    await scan_warnings(app.services)
    return u, p


async def findings(db, short: str) -> dict[str, dict]:
    """'rule:subject' → evidence, open warnings of one unit."""
    async with db.read() as s:
        rows = (await s.exec(select(Warning).join(Unit).where(Unit.short_name == short,
                                                              Warning.resolved_on.is_(None)))).all()
    return {f"{w.rule}:{w.subject}": json.loads(w.evidence) for w in rows}


async def test_blank_figures_are_not_zero(app, emulator, tmp_path):
    """12.1: a units file without 编制 or 职数 figures used to import 0, so everyone was 超编/超职数."""
    await load(app, tmp_path, [unit("示例县测试局", "测试局", ORGAN, "党政机关")], [
        person(idn("19800101", "011"), "甲", "测试局", "行政编制", 是否领导职务="是", 领导职数层级="单位领导",
               正副="正职"),
        person(idn("19800101", "031"), "乙", "测试局", "行政编制"),
    ])
    async with app.db.read() as s:
        stored = (await s.exec(select(Unit).where(Unit.uscc == ORGAN))).one()
    assert (stored.est_admin, stored.posts_unit_chief) == (None, None)
    got = await findings(app.db, "测试局")
    assert list(got) == ["数据不全:"]  # no 超编, no 超职数: one finding that says what is missing
    assert got["数据不全:"]["缺少"] == ["行政编制核定数", "单位领导正职职数"]
    chat = Chat(emulator)
    warn = await chat.say("bb_ywy1", "预警 测试局")
    assert "数据不全：单位文件未填行政编制核定数、单位领导正职职数" in warn.text
    assert "超编：" not in warn.text and "超职数：" not in warn.text
    est = await chat.say("bb_ywy1", "编制 测试局")
    assert "行政编制：核定 未填，实有 2" in est.text and "超编 " not in est.text and "（超职数）" not in est.text
    assert est.text.count("数据不全") == 1


async def test_only_people_on_the_books_count(app, emulator, tmp_path):
    """12.2: 人员状态 退休/去世/调出/辞职 used to be counted in 编制 and flagged 超龄未退."""
    rows = [person(idn("19800101", "011"), "甲", "测试局", "行政编制"),
            person(idn("19500101", "031"), "乙", "测试局", "行政编制", 人员状态="退休"),
            person(idn("19600101", "051"), "丙", "测试局", "行政编制", 人员状态="去世"),
            person(idn("19810101", "071"), "丁", "测试局", "行政编制", 人员状态="调出"),
            person(idn("19820101", "091"), "戊", "测试局", "行政编制", 人员状态="辞职"),
            person(idn("19830101", "111"), "己", "测试局", "行政编制", 人员状态="借调")]
    _, result = await load(app, tmp_path, [unit("示例县测试局", "测试局", ORGAN, "党政机关", 行政编制="2")], rows)
    got = await findings(app.db, "测试局")
    assert list(got) == ["编制:行政编制"]  # 甲 and 己 (借调 still occupies the 编制): 满编, nothing else
    assert got["编制:行政编制"] == {"核定": 2, "实有": 2}
    est = await Chat(emulator).say("bb_ywy1", "编制 测试局")
    assert "行政编制：核定 2，实有 2，满编" in est.text
    assert not [w for w in result.warnings if "人员状态" in w]
    rows[0]["人员状态"] = "在岗待退"
    _, again = await load(app, tmp_path, [unit("示例县测试局", "测试局", ORGAN, "党政机关", 行政编制="2")], rows)
    assert any("第2行人员状态“在岗待退”不在已知取值中，按在编人员计算" in w for w in again.warnings)


async def test_cangong_mass_bodies_and_unit_kind(app, emulator, tmp_path):
    """12.3: 参公 labelling, 参公 with 行政编制, 群团 with 事业编制, 单位类别 against the code."""
    staff = [person(idn("19800101", f"{n:02d}1"), f"参{n}", "社保中心甲", "事业编制", 人员类别="参公")
             for n in range(8)]
    units, _ = await load(app, tmp_path, [
        unit("示例县社保中心甲", "社保中心甲", CANGONG, "事业单位", 是否参公="是", 行政编制="8"),
        unit("示例县社保中心乙", "社保中心乙", CANGONG2, "事业单位", 是否参公="是", 事业编制="5", 行政编制="1"),
        unit("示例县妇联", "测试妇联", MASS, "群团机关", 行政编制="5", 事业编制="1"),
        unit("示例县测试馆", "测试馆", MISCODED, "事业单位", 事业编制="5"),
    ], [*staff,
        person(idn("19800101", "911"), "乙一", "社保中心乙", "行政编制"),
        person(idn("19800101", "931"), "工一", "测试妇联", "事业编制"),
        *[person(idn("19800102", f"{n:02d}1"), f"档{n}", "测试馆", "事业编制") for n in range(3)]])
    # 参公 unit: 编制 in the 行政编制 column, staff on 事业编制 → one labelling finding, no 超编 核定0 实有8
    first = await findings(app.db, "社保中心甲")
    assert list(first) == ["口径不一致:事业编制"]
    assert first["口径不一致:事业编制"] == {"行政编制核定": 8, "事业编制核定": None, "事业编制实有": 8}
    warn = await Chat(emulator).say("bb_ywy1", "预警 社保中心甲")
    assert "编制口径不一致：参公单位的编制填在“行政编制”栏（核定 8），人员登记为事业编制（实有 8）" in warn.text
    assert "超编" not in warn.text.replace("不按“事业编制核定 0”报超编", "")
    est = await Chat(emulator).say("bb_ywy1", "编制 社保中心甲")
    assert "不计超编" in est.text
    second = await findings(app.db, "社保中心乙")
    assert second[f"混岗:{idn('19800101', '911')}"]["情形"] == "参公单位使用行政/政法编制"
    mass = await findings(app.db, "测试妇联")
    assert mass[f"混岗:{idn('19800101', '931')}"]["情形"] == "群团机关使用事业编制人员"
    assert await findings(app.db, "测试馆") == {}  # 单位类别 事业单位 is the truth, not the 11 prefix
    assert any("示例县测试馆：单位类别为“事业单位”，统一社会信用代码以 11 开头（通常为党政机关）" in w
               for w in units.warnings)


async def test_one_cause_one_finding_when_the_figure_is_blank(app, emulator, tmp_path):
    """12.4: a 机关 with one 事业编制 person: 混岗 explains the 事业编制 figure too, so one finding."""
    await load(app, tmp_path, [unit("示例县测试局", "测试局", ORGAN, "党政机关", 行政编制="3")], [
        person(idn("19800101", "011"), "甲", "测试局", "事业编制")])
    got = await findings(app.db, "测试局")
    assert list(got) == [f"混岗:{idn('19800101', '011')}"]
    warn = await Chat(emulator).say("bb_ywy1", "预警 测试局")
    assert "机关使用事业编制人员（同一原因：该单位事业编制核定 未填、实有 1，不另报数据不全）" in warn.text
    assert warn.text.count("🟠") + warn.text.count("🔴") + warn.text.count("🔵") == 1 + 3  # one row + the counts


async def test_retirement_category_from_the_person_kind(app, emulator, tmp_path):
    """12.5: 公务员 with 身份 工人 was 女工人 (overdue since 2022); a woman with neither field was 女干部."""
    civil = idn("19720615", "002")  # 女, 公务员, 身份 工人 → 女干部: 2028-02
    blank = idn("19700315", "022")  # 女, neither 人员类别 nor 身份
    worker = idn("19720615", "042")  # 女, 工勤 → 女工人: 2022-06, overdue
    await load(app, tmp_path, [unit("示例县测试局", "测试局", ORGAN, "党政机关", 行政编制="5", 工勤编制="1")], [
        person(civil, "甲", "测试局", "行政编制", 人员类别="公务员", 身份="工人"),
        person(blank, "乙", "测试局", "行政编制"),
        person(worker, "丙", "测试局", "工勤编制", 人员类别="工勤")])
    async with app.db.read() as s:
        months = {p.name: p.retirement_month for p in (await s.exec(select(Person))).all() if p.name in "甲乙丙"}
    assert months == {"甲": date(2028, 2, 1), "乙": None, "丙": date(2022, 6, 1)}
    got = await findings(app.db, "测试局")
    assert f"超龄未退:{civil}" not in got and f"超龄未退:{worker}" in got
    assert got[f"数据不全:{blank}"]["缺少"] == "人员类别和身份（无法确定退休年龄）"
    warn = await Chat(emulator).say("bb_ywy1", "预警 测试局")
    assert "数据不全：乙" in warn.text


async def test_fifteen_digit_id_explains_the_conversion(app, tmp_path):
    """12.5: a 15-digit 身份证号 got only "应为18位"."""
    await import_file(app.db, "units", write_csv(tmp_path / "u.csv", UNIT_HEADERS,
                                                 [unit("示例县测试局", "测试局", ORGAN, "党政机关", 行政编制="5")]))
    path = write_csv(tmp_path / "p.csv", PERSON_HEADERS, [person("330102800101001", "甲", "测试局", "行政编制")])
    with pytest.raises(ImportRejected) as exc:
        await import_file(app.db, "persons", path)
    [line] = exc.value.lines
    assert "15位旧号码" in line and "在第6位后插入“19”" in line and "330102198001010018" in line


@pytest.mark.parametrize(("today", "month", "expected"), [
    ("2026-09-30 10:00", date(2027, 3, 1), "临退"),  # six months ahead: in (was missed)
    ("2026-09-01 10:00", date(2027, 3, 1), "临退"),
    ("2026-08-31 10:00", date(2027, 3, 1), None),  # seven months ahead: not yet
    ("2026-09-30 10:00", date(2027, 4, 1), None),
    ("2026-09-30 10:00", date(2026, 9, 1), "临退"),  # this month
    ("2026-10-01 10:00", date(2026, 9, 1), "超龄未退"),  # the month after
])
async def test_retire_soon_window_is_six_months(app, today, month, expected):
    """12.6: for a 2027-03 retirement, 2026-09-30 showed nothing (the window was five months)."""
    async with app.db.write() as s:
        edu = (await s.exec(select(Unit).where(Unit.short_name == "教育局"))).one()
        s.add(Person(id_number=idn("19700101", "011"), name="甲", sex="男", birth_date=date(1970, 1, 1),
                     unit_id=edu.id, staffing_type="行政编制", retirement_month=month))
    await scan_warnings(app.services, now=beijing(today))
    got = {k.split(":")[0] for k in await findings(app.db, "教育局") if k.endswith(idn("19700101", "011"))}
    assert got == ({expected} if expected else set())


async def test_elsewhere_counts_from_the_stated_start(app, emulator, tmp_path):
    """12.7: 长期在其他单位工作 counted from the first import; a 借调/挂职开始日期 column now gives the start."""
    units = [unit("示例县测试局", "测试局", ORGAN, "党政机关", 行政编制="5")]
    stated, unstated = idn("19800101", "011"), idn("19800101", "031")
    await load(app, tmp_path, units, [
        person(stated, "甲", "测试局", "行政编制", 实际工作单位="教育局", **{"借调/挂职开始日期": "2025-03-01"}),
        person(unstated, "乙", "测试局", "行政编制", 实际工作单位="教育局")])
    got = await findings(app.db, "测试局")
    assert got[f"混岗:{stated}"]["起始"] == "自 2025-03-01"
    assert f"混岗:{unstated}" not in got  # first seen today: not yet six months
    async with app.db.write() as s:  # the same file imported again eight months later
        await s.exec(update(Person).where(Person.id_number == unstated).values(work_elsewhere_since=date(2026, 3, 1)))
    await scan_warnings(app.services)
    got = await findings(app.db, "测试局")
    assert got[f"混岗:{unstated}"]["起始"] == "自首次导入起（2026-03-01，未填借调/挂职开始日期）"
    warn = await Chat(emulator).say("bb_ywy1", "预警 测试局")
    assert "长期在其他单位工作，自 2025-03-01" in warn.text and "自首次导入起" in warn.text
