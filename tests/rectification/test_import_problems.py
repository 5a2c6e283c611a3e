"""Import kind `problems` (问题台账), docs/import-formats.md, on the 示例县 demo data."""

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
from models.audit import AuditEvent
from models.outbox import OutboxMessage
from models.rectification.ops import create_problem
from models.rectification.tables import Problem, ProblemEvent
from models.staffing.units import Unit

DEMO = Path(__file__).resolve().parents[2] / "bot" / "demo"
D = date.fromisoformat
HEADERS = ["问题编号", "所属单位", "问题来源", "问题描述", "整改要求", "交办日期", "整改期限", "整改时限", "状态"]
HEALTH_USCC = "11331099MB00000071"  # 示例县卫生健康局


def write_csv(path: Path, rows: list[list], headers: list[str] = HEADERS, encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


async def problems(db: Database) -> dict[str, Problem]:
    async with db.read() as s:
        return {p.number: p for p in (await s.exec(select(Problem))).all()}


async def events(db: Database, number: str) -> list[ProblemEvent]:
    async with db.read() as s:
        return list((await s.exec(select(ProblemEvent).join(Problem).where(Problem.number == number)
                                  .order_by(ProblemEvent.id))).all())


async def count(db: Database, model: type, *where) -> int:
    async with db.read() as s:
        return (await s.exec(select(func.count()).select_from(model).where(*where))).one()


async def unit_id(db: Database, name: str) -> int:
    async with db.read() as s:
        return (await s.exec(select(Unit.id).where(Unit.name == name))).one()


async def snapshot(db: Database) -> tuple:
    """Everything an import could touch."""
    rows = sorted((p.number, p.unit_id, p.source, p.description, p.requirement, p.assigned_on, p.deadline,
                   p.deadline_provisional, p.status, p.revision, p.closed_at, p.created_at, p.updated_at)
                  for p in (await problems(db)).values())
    return (rows, await count(db, ProblemEvent), await count(db, AuditEvent), await count(db, OutboxMessage))


def ledger() -> list[list]:
    """Blank numbers only: 国庆 2026, one across the end of the package's data, one in 2025."""
    return [
        ["", "教育局", "巡察", "教师编制使用不规范", "按规定清理", "2026-09-28", "", "5", ""],
        ["", "示例县财政局", "审计", "内设机构超职数配备", "", "2026/12/24", "", "10", "整改中"],
        ["", HEALTH_USCC.lower(), "评估", "三定规定执行不到位", "", "2025年3月3日", "2025-04-01", "", ""],
    ]


# --- good files --------------------------------------------------------------------------------------

async def test_csv_generated_and_explicit_numbers(demo_db, tmp_path):
    async with demo_db.write() as s:  # the database already uses ZG-2026-0003
        await create_problem(s, unit_id=await unit_id(demo_db, "示例县公安局"), source="巡察", description="旧问题",
                             requirement="", assigned_on=D("2026-05-06"), deadline=D("2026-06-30"),
                             provisional=False, actor=None, number="ZG-2026-0003")
    outbox = await count(demo_db, OutboxMessage)
    rows = [
        ["", "教育局", "巡察", "教师编制使用不规范", "按规定清理", "2026-09-28", "", "5", ""],  # row 2
        ["zg-2026-0010", HEALTH_USCC, "审计", "超编进人", "", "2026-11-02", "2026-11-30 17:00", "", "整改中"],  # row 3
        ["", "示例县财政局", "专项检查", "内设机构超职数配备", "", "20261224", "", "10个工作日", ""],  # row 4
        ["", "县委办", "其他", "去年的问题", "", "2025-03-03", "2025-04-01", "", "待整改"],  # row 5
        ["ZG-2026-0004", "公安局", "监督员反馈", "混岗", "", "2026-08-03", "2026-08-31", "", "已销号"],  # row 6
    ]
    result = await import_file(demo_db, "problems", write_csv(tmp_path / "台账.csv", rows))
    assert result.summary() == "问题台账导入完成：新增 5，更新 0，未变 0"
    assert result.warnings == []
    got = await problems(demo_db)
    assert set(got) == {"ZG-2026-0003", "ZG-2026-0005", "ZG-2026-0010", "ZG-2026-0011", "ZG-2025-0001",
                        "ZG-2026-0004"}
    # Row 2: after the database's 0003; 0004 is used by row 6, so 0005. 国庆 2026 by hand:
    # 09-29 (1), 09-30 (2), 10-01..10-07 off, 10-08 (3), 10-09 (4), Saturday 10-10 make-up day (5).
    edu = got["ZG-2026-0005"]
    assert edu.unit_id == await unit_id(demo_db, "示例县教育局")
    assert (edu.source, edu.requirement, edu.status) == ("巡察", "按规定清理", "待整改")
    assert (edu.assigned_on, edu.deadline, edu.deadline_provisional) == (D("2026-09-28"), D("2026-10-10"), False)
    assert (edu.revision, edu.closed_at, edu.created_by) == (0, None, None)
    health = got["ZG-2026-0010"]  # explicit, lower case normalised; a time after the date is dropped
    assert health.unit_id == await unit_id(demo_db, "示例县卫生健康局")
    assert (health.deadline, health.status, health.deadline_provisional) == (D("2026-11-30"), "整改中", False)
    # Row 4: after row 3's 0010. 12-25 (1), 12-28..31 (2-5), 2027-01-01 off, 01-04..08 (6-10): past the
    # package's data, so provisional.
    finance = got["ZG-2026-0011"]
    assert (finance.deadline, finance.deadline_provisional) == (D("2027-01-08"), True)
    assert got["ZG-2025-0001"].unit_id == await unit_id(demo_db, "中共示例县委办公室")
    closed = got["ZG-2026-0004"]
    assert closed.status == "已销号" and closed.closed_at is not None
    history = await events(demo_db, "ZG-2026-0005")
    assert [(e.action, e.actor_name, e.actor_account_id) for e in history] == [("导入", "导入", None)]
    assert "台账.csv" in history[0].detail and "第2行" in history[0].detail
    assert "第6行" in (await events(demo_db, "ZG-2026-0004"))[0].detail
    assert await count(demo_db, AuditEvent, AuditEvent.action == "import.add", AuditEvent.entity == "problem") == 5
    assert await count(demo_db, OutboxMessage) == outbox  # the import tells nobody


async def test_xlsx_with_date_and_number_cells(demo_db, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["所属单位*", "问题来源*", "问题描述*", "交办日期*", "整改时限", "整改期限", "问题编号", "备注"])
    ws.append(["教育局", "下沉走访", "台账不全", datetime(2026, 9, 28, 9, 30), 5, None, None, "x"])
    ws.append([])
    ws.append(["卫健局", "预警", "临界预警", date(2026, 11, 2), None, date(2026, 11, 30), "ZG-2026-0007", None])
    ws.append(["卫健局", "巡察", "跨年", date(2026, 12, 1), None, datetime(2027, 3, 1), None, None])
    ws.append(["财政局", "审计", "整数天数", date(2026, 9, 28), 5.0, None, None, None])
    wb.save(tmp_path / "台账.xlsx")
    result = await import_file(demo_db, "problems", tmp_path / "台账.xlsx")
    assert (result.added, result.updated, result.unchanged) == (4, 0, 0)
    assert result.warnings == ["已忽略无法识别的列：备注"]
    got = await problems(demo_db)
    # Numbers: 0007 is explicit (row 4); row 2 comes first, so 0001; row 5 after row 4's 0007.
    assert {n: (p.description, p.deadline, p.deadline_provisional) for n, p in got.items()} == {
        "ZG-2026-0001": ("台账不全", D("2026-10-10"), False),
        "ZG-2026-0007": ("临界预警", D("2026-11-30"), False),
        "ZG-2026-0008": ("跨年", D("2027-03-01"), True),  # an explicit date in 2027 is provisional too
        "ZG-2026-0009": ("整数天数", D("2026-10-10"), False),
    }
    again = await import_file(demo_db, "problems", tmp_path / "台账.xlsx")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 4)


async def test_gbk_csv_without_optional_columns(demo_db, tmp_path):
    headers = ["所属单位", "问题来源", "问题描述", "交办日期", "整改期限"]
    path = write_csv(tmp_path / "p.csv", [["教育局", "巡察", "问题一", "2026-09-01", "2026-09-30"]], headers, "gbk")
    result = await import_file(demo_db, "problems", path)
    assert result.added == 1
    problem = (await problems(demo_db))["ZG-2026-0001"]
    assert (problem.status, problem.requirement, problem.deadline) == ("待整改", "", D("2026-09-30"))


# --- re-import and updates ----------------------------------------------------------------------------

async def test_reimport_with_blank_numbers_changes_nothing(demo_db, tmp_path):
    path = write_csv(tmp_path / "p.csv", ledger())
    first = await import_file(demo_db, "problems", path)
    assert first.added == 3
    assert set(await problems(demo_db)) == {"ZG-2026-0001", "ZG-2026-0002", "ZG-2025-0001"}
    before = await snapshot(demo_db)
    again = await import_file(demo_db, "problems", path)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    assert await snapshot(demo_db) == before
    # The same rows under their numbers (as an exported ledger would come back) change nothing either.
    numbered = [["ZG-2026-0001", *ledger()[0][1:]], ["zg-2026-0002", *ledger()[1][1:]]]
    result = await import_file(demo_db, "problems", write_csv(tmp_path / "p2.csv", numbered))
    assert (result.added, result.updated, result.unchanged) == (0, 0, 2)
    assert await snapshot(demo_db) == before


async def test_update_bumps_revision_and_records_history(demo_db, tmp_path):
    await import_file(demo_db, "problems", write_csv(tmp_path / "p.csv", ledger()))
    old = (await problems(demo_db))["ZG-2026-0001"]
    audits = await count(demo_db, AuditEvent)
    rows = ledger()
    rows[0][6:9] = ["2026-10-20", "", "整改中"]  # 整改时限 5 → 整改期限 10-20, status changes
    rows[1][8] = ""  # blank 状态 keeps the stored 整改中
    result = await import_file(demo_db, "problems", write_csv(tmp_path / "p2.csv", rows))
    assert (result.added, result.updated, result.unchanged) == (0, 1, 2)
    got = await problems(demo_db)
    edu = got["ZG-2026-0001"]
    assert (edu.deadline, edu.status, edu.revision, edu.closed_at) == (D("2026-10-20"), "整改中", 1, None)
    assert edu.updated_at > old.updated_at and edu.created_at == old.created_at
    assert got["ZG-2026-0002"].status == "整改中"
    history = await events(demo_db, "ZG-2026-0001")
    assert [e.action for e in history] == ["导入", "导入更新"]
    detail = history[1].detail
    assert "p2.csv 第2行" in detail and "整改期限：2026-10-10 → 2026-10-20" in detail
    assert "状态：待整改 → 整改中" in detail and "问题描述" not in detail
    async with demo_db.read() as s:
        audit = (await s.exec(select(AuditEvent).where(AuditEvent.action == "import.update"))).one()
    assert audit.entity == "problem" and audit.entity_id == "ZG-2026-0001" and "deadline" in audit.detail
    assert await count(demo_db, AuditEvent) == audits + 1


async def test_moved_deadline_cancels_pending_reminders_and_sends_nothing(demo_db, tmp_path):
    await import_file(demo_db, "problems", write_csv(tmp_path / "p.csv", ledger()))
    problem = (await problems(demo_db))["ZG-2026-0001"]
    async with demo_db.write() as s:
        for pid, key in ((problem.id, "r0:before5:jyj_ll"), (problem.id + 1, "r0:before5:czj_ll")):
            s.add(OutboxMessage(dedup_key=f"problem.remind:{pid}:{key}", kind="problem.remind",
                                recipient="user:x", msg_key="sampleText", payload="{}"))
    rows = ledger()
    rows[0][7] = "6"
    await import_file(demo_db, "problems", write_csv(tmp_path / "p2.csv", rows))
    async with demo_db.read() as s:
        statuses = {m.dedup_key: m.status for m in (await s.exec(select(OutboxMessage))).all()}
    assert statuses == {f"problem.remind:{problem.id}:r0:before5:jyj_ll": "cancelled",
                        f"problem.remind:{problem.id + 1}:r0:before5:czj_ll": "pending"}
    updated = (await problems(demo_db))["ZG-2026-0001"]
    assert (updated.deadline, updated.revision) == (D("2026-10-12"), 1)  # one more working day after 10-10


async def test_closing_sets_and_reopening_clears_closed_at(demo_db, tmp_path):
    await import_file(demo_db, "problems", write_csv(tmp_path / "p.csv", ledger()))
    rows = ledger()
    rows[0][8] = "已销号"
    result = await import_file(demo_db, "problems", write_csv(tmp_path / "p2.csv", rows))
    assert (result.updated, result.unchanged) == (1, 2)
    closed = (await problems(demo_db))["ZG-2026-0001"]
    assert closed.status == "已销号" and closed.closed_at is not None
    assert closed.revision == 0  # the deadline did not change
    again = await import_file(demo_db, "problems", write_csv(tmp_path / "p2.csv", rows))
    assert again.unchanged == 3
    assert (await problems(demo_db))["ZG-2026-0001"].closed_at == closed.closed_at
    rows[0][8] = "整改中"
    await import_file(demo_db, "problems", write_csv(tmp_path / "p3.csv", rows))
    reopened = (await problems(demo_db))["ZG-2026-0001"]
    assert (reopened.status, reopened.closed_at) == ("整改中", None)
    assert [e.action for e in await events(demo_db, "ZG-2026-0001")] == ["导入", "导入更新", "导入更新"]


async def test_official_calendar_loaded_later_settles_provisional_deadlines(demo_db, tmp_path):
    rows = [
        ["", "财政局", "审计", "跨年问题", "", "2026-12-24", "", "10", ""],
        # Provisional rule-based calendar (春节 除夕 02-05 to 初三 02-08 off): 02-02..04 (3), 02-09..12 (7),
        # 02-15..17 (10). The sample 2027 file rests
        # 02-06..02-13 and works Saturday 02-20: 02-02..05 (4), 02-15..19 (9), 02-20 (10).
        ["", "财政局", "审计", "春节问题", "", "2027-02-01", "", "10", ""],
    ]
    path = write_csv(tmp_path / "p.csv", rows)
    await import_file(demo_db, "problems", path)
    got = await problems(demo_db)
    assert (got["ZG-2026-0001"].deadline, got["ZG-2026-0001"].deadline_provisional) == (D("2027-01-08"), True)
    assert (got["ZG-2027-0001"].deadline, got["ZG-2027-0001"].deadline_provisional) == (D("2027-02-17"), True)
    await import_file(demo_db, "holidays", DEMO / "holidays-2027.csv")
    result = await import_file(demo_db, "problems", path)
    assert (result.added, result.updated) == (0, 2)
    got = await problems(demo_db)
    assert (got["ZG-2026-0001"].deadline, got["ZG-2026-0001"].deadline_provisional,
            got["ZG-2026-0001"].revision) == (D("2027-01-08"), False, 0)
    assert (got["ZG-2027-0001"].deadline, got["ZG-2027-0001"].deadline_provisional,
            got["ZG-2027-0001"].revision) == (D("2027-02-20"), False, 1)


# --- bad files -----------------------------------------------------------------------------------------

async def test_bad_file_writes_nothing_and_names_rows_and_columns(demo_db, tmp_path):
    before = await snapshot(demo_db)
    rows = [
        ["ZG-2026-0001", "教育局", "巡察", "好的一行", "", "2026-09-28", "", "5", ""],  # row 2
        ["", "县中医院", "巡察", "找不到单位", "", "2026-09-28", "", "5", ""],  # row 3
        ["", "教育局", "群众举报", "来源不对", "", "2026-09-28", "", "5", ""],  # row 4
        ["", "教育局", "巡察", "两个期限", "", "2026-09-28", "2026-10-30", "5", ""],  # row 5
        ["", "教育局", "巡察", "没有期限", "", "2026-09-28", "", "", ""],  # row 6
        ["", "教育局", "巡察", "期限早于交办", "", "2026-09-28", "2026-09-01", "", ""],  # row 7
        ["QX-" + "1" * 38, "教育局", "巡察", "编号太长", "", "2026-09-28", "", "5", ""],  # row 8
        ["zg-2026-0001", "卫健局", "审计", "编号重复", "", "2026-09-28", "", "5", ""],  # row 9
        ["", "教育局", "巡察", "时限不对", "", "2026-09-28", "", "0", "已办结"],  # row 10
        ["", "", "巡察", "", "", "2026-02-30", "", "5", ""],  # row 11
        ["", "教育局", "巡察", "好的一行", "", "2026-09-28", "2026-10-30", "", ""],  # row 12
    ]
    with pytest.raises(ImportRejected) as exc:
        await import_file(demo_db, "problems", write_csv(tmp_path / "p.csv", rows))
    assert exc.value.lines == [
        "第3行 所属单位: 找不到单位“县中医院”",
        "第4行 问题来源: 未知问题来源“群众举报”（可选：巡察、审计、评估、专项检查、监督员反馈、下沉走访、预警、其他）",
        "第5行 整改期限、整改时限: 只能填写其中一项（整改期限填日期，整改时限填工作日数）",
        "第6行 整改期限、整改时限: 必须填写其中一项（整改期限填日期，整改时限填工作日数）",
        "第7行 整改期限: 2026-09-01早于交办日期2026-09-28",
        "第8行 问题编号: 不能超过40个字符（现有41个）",
        "第9行 问题编号: 与第2行重复",
        "第10行 整改时限: 应大于0",
        "第10行 状态: 未知状态“已办结”（可选：待整改、整改中、待销号审核、已销号）",
        "第11行 所属单位: 不能为空",
        "第11行 问题描述: 不能为空",
        "第11行 交办日期: 无效的日期“2026-02-30”",
        "第12行 问题编号: 为空，且所属单位、问题描述、交办日期与第2行相同，请填写问题编号以区分",
    ]
    assert await snapshot(demo_db) == before


async def test_blank_numbers_ambiguous_against_the_database(demo_db, tmp_path):
    edu = await unit_id(demo_db, "示例县教育局")
    async with demo_db.write() as s:
        for number in ("ZG-2026-0001", "ZG-2026-0002"):
            await create_problem(s, unit_id=edu, source="巡察", description="重复的问题", requirement="",
                                 assigned_on=D("2026-09-28"), deadline=D("2026-10-30"), provisional=False,
                                 actor=None, number=number)
        await create_problem(s, unit_id=edu, source="巡察", description="已有问题", requirement="",
                             assigned_on=D("2026-09-28"), deadline=D("2026-10-30"), provisional=False,
                             actor=None, number="ZG-2026-0003")
    before = await snapshot(demo_db)
    rows = [
        ["", "教育局", "巡察", "重复的问题", "", "2026-09-28", "2026-10-30", "", ""],  # row 2
        ["ZG-2026-0003", "教育局", "巡察", "改了描述", "", "2026-09-28", "2026-10-30", "", ""],  # row 3
        ["", "教育局", "巡察", "已有问题", "", "2026-09-28", "2026-10-30", "", ""],  # row 4: is ZG-2026-0003
    ]
    with pytest.raises(ImportRejected) as exc:
        await import_file(demo_db, "problems", write_csv(tmp_path / "p.csv", rows))
    assert exc.value.lines == [
        "第2行 问题编号: 为空，且已有多个所属单位、问题描述、交办日期相同的问题（ZG-2026-0001、ZG-2026-0002），"
        "请填写问题编号",
        "第4行 问题编号: 为空，按所属单位、问题描述、交办日期即已有问题ZG-2026-0003，与第3行重复",
    ]
    assert await snapshot(demo_db) == before


async def test_missing_columns(demo_db, tmp_path):
    headers = ["所属单位", "问题来源", "问题描述", "交办日期"]
    path = write_csv(tmp_path / "p.csv", [["教育局", "巡察", "没有期限列", "2026-09-28"]], headers)
    with pytest.raises(ImportRejected) as exc:
        await import_file(demo_db, "problems", path)
    assert exc.value.lines == ["缺少列：整改期限（日期）或整改时限（工作日数），须有其一"]
    path = write_csv(tmp_path / "q.csv", [["教育局", "没有来源", "2026-10-30"]], ["所属单位", "问题描述", "整改期限"])
    with pytest.raises(ImportRejected) as exc:
        await import_file(demo_db, "问题台账", path)
    assert exc.value.lines == ["缺少必填列：问题来源、交办日期"]
    assert await count(demo_db, Problem) == 0


async def test_office_numbers_are_kept_but_need_no_inner_space(demo_db, tmp_path):
    rows = [[" 巡察〔2026〕3号-1 ", "教育局", "巡察", "一", "", "2026-09-28", "", "5", ""],
            ["QX 2026 002", "教育局", "巡察", "二", "", "2026-09-28", "", "5", ""]]
    with pytest.raises(ImportRejected) as exc:
        await import_file(demo_db, "problems", write_csv(tmp_path / "p.csv", rows))
    assert exc.value.lines == ["第3行 问题编号: 不能含空格（如需分隔请用“-”），而不是“QX 2026 002”"]
    await import_file(demo_db, "problems", write_csv(tmp_path / "p.csv", rows[:1]))
    assert list(await problems(demo_db)) == ["巡察〔2026〕3号-1"]
