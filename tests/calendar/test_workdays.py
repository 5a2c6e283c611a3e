"""The working-day calendar (models.calendar.workdays) and the `holidays` import kind."""

from __future__ import annotations

import csv
import json
import random
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.db import Database
from bot.importing import ImportRejected, import_file
from models.audit import AuditEvent
from models.calendar.tables import HolidayOverride
from models.calendar.workdays import WorkCalendar, load_calendar, package_years

SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "demo" / "holidays-2027.csv"
D = date.fromisoformat


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


def write_csv(path: Path, rows: list[list[str]], headers: tuple[str, ...] = ("日期", "类型", "说明")) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


async def count(db: Database, model: type) -> int:
    async with db.read() as s:
        return (await s.exec(select(func.count()).select_from(model))).one()


# --- the package's years -------------------------------------------------------------------------

def test_spot_checks_from_domain_facts(cal: WorkCalendar):
    assert cal.add_workdays(D("2026-02-13"), 5) == D("2026-02-27")  # 春节 with 调休
    assert cal.add_workdays(D("2026-09-18"), 10) == D("2026-10-09")  # 国庆
    assert cal.is_workday(D("2026-02-14"))  # make-up Saturday
    assert cal.is_workday(D("2026-10-10"))  # make-up Saturday
    assert not cal.is_workday(D("2026-10-05"))  # 国庆 Monday
    assert cal.workdays_in_year(2026) == 248
    assert cal.workdays_in_year(2025) == 248
    assert cal.workdays_between(D("2025-12-31"), D("2026-12-31")) == 248


def test_across_national_day_2025_and_spring_festival_2026(cal: WorkCalendar):
    for start, n in ((D("2025-09-26"), 5), (D("2025-09-30"), 1), (D("2026-02-10"), 8), (D("2026-02-14"), 3)):
        assert cal.add_workdays(start, n) == chinese_calendar.find_workday(n, start)
    assert cal.add_workdays(D("2025-09-30"), 1) == D("2025-10-09")
    assert cal.is_workday(D("2025-10-11"))  # make-up Saturday of 国庆 2025
    assert cal.workdays_between(D("2025-09-30"), D("2025-10-09")) == 1


def test_matches_find_workday_everywhere_in_the_data(cal: WorkCalendar):
    rnd = random.Random(7)
    first, last = package_years() or (2004, 2026)
    span = (date(last, 12, 31) - date(first, 1, 1)).days
    for _ in range(3000):
        start = date(first, 1, 1) + timedelta(days=rnd.randrange(span))
        n = rnd.randrange(-30, 31)
        try:
            expected = chinese_calendar.find_workday(n, start)
        except NotImplementedError:
            continue
        assert cal.add_workdays(start, n) == expected, (start, n)
        assert cal.is_workday(start) == chinese_calendar.is_workday(start)


def test_rest_day_start_follows_find_workday(cal: WorkCalendar):
    # find_workday first moves a rest-day start to the next working day, which is not counted.
    assert cal.add_workdays(D("2026-03-07"), 1) == D("2026-03-10") == chinese_calendar.find_workday(1, D("2026-03-07"))


def test_zero_and_negative_n(cal: WorkCalendar):
    assert cal.add_workdays(D("2026-03-09"), 0) == D("2026-03-09")  # Monday, itself
    assert cal.add_workdays(D("2026-03-07"), 0) == D("2026-03-09")  # Saturday → Monday
    assert cal.add_workdays(D("2026-10-01"), 0) == D("2026-10-08")
    assert cal.next_workday(D("2026-02-15")) == D("2026-02-24")
    assert cal.add_workdays(D("2026-03-09"), -1) == D("2026-03-06")
    assert cal.add_workdays(D("2026-02-24"), -1) == D("2026-02-14")  # back over 春节 to the make-up day
    assert cal.add_workdays(D("2026-01-05"), -3) == D("2025-12-30")  # back over 元旦 and the year
    for start in (D("2026-03-07"), D("2026-03-09"), D("2026-10-03")):
        assert cal.add_workdays(start, -4) == chinese_calendar.find_workday(-4, start)


def test_workdays_between_sign_and_boundaries(cal: WorkCalendar):
    mon, fri, sat, next_mon = D("2026-03-09"), D("2026-03-13"), D("2026-03-14"), D("2026-03-16")
    assert cal.workdays_between(mon, mon) == 0
    assert cal.workdays_between(mon, fri) == 4  # a excluded, b included
    assert cal.workdays_between(fri, sat) == 0
    assert cal.workdays_between(sat, next_mon) == 1
    assert cal.workdays_between(fri, mon) == -4
    assert cal.workdays_between(next_mon, sat) == -1
    deadline = cal.add_workdays(mon, 10)
    assert cal.workdays_between(mon, deadline) == 10
    assert cal.workdays_between(deadline, mon) == -10
    assert cal.workdays_between(D("2024-06-01"), D("2026-06-01")) == sum(
        1 for i in range(1, 731) if chinese_calendar.is_workday(D("2024-06-01") + timedelta(days=i)))


# --- past the package's data ---------------------------------------------------------------------

def test_end_of_the_data_falls_back(cal: WorkCalendar):
    assert package_years() is not None and package_years()[1] >= 2026
    with pytest.raises(NotImplementedError):
        chinese_calendar.find_workday(6, D("2026-12-24"))
    if package_years()[1] == 2026:  # the chinesecalendar release this project was built with
        # 12-25, 28, 29, 30, 31 are the first five; 2027-01-01 is a Friday but a fixed holiday.
        assert cal.add_workdays(D("2026-12-24"), 6) == D("2027-01-04")
        assert not cal.is_workday(D("2027-01-01"))
        assert cal.is_provisional(D("2027-01-04"))
        assert cal.provisional_between(D("2026-12-24"), D("2027-01-04"))
    assert not cal.is_provisional(D("2026-12-31"))
    assert not cal.provisional_between(D("2026-01-01"), D("2026-12-31"))


def test_rule_based_calendar():
    cal = WorkCalendar()
    assert not cal.is_workday(D("2031-05-01"))  # Thursday, fixed holiday
    assert not cal.is_workday(D("2031-10-03"))  # Friday, fixed holiday
    assert cal.is_workday(D("2031-10-06"))  # Monday
    assert not cal.is_workday(D("2031-10-04"))  # Saturday
    assert cal.add_workdays(D("2031-09-30"), 1) == D("2031-10-06")
    assert cal.is_provisional(D("2031-10-06"))


def test_rule_based_years_follow_the_2025_holiday_rules():
    """Issue 12.9: 劳动节 is 5月1日-2日 and 春节 is 除夕 to 初三 since the 2024 revision of
    《全国年节及纪念日放假办法》; hand-checked on the 2028-2030 calendars."""
    cal = WorkCalendar()
    assert not cal.is_workday(D("2028-05-02"))  # Tuesday
    assert not cal.is_workday(D("2029-05-02"))  # Wednesday
    assert not cal.is_workday(D("2030-05-02"))  # Thursday
    assert cal.add_workdays(D("2030-04-30"), 1) == D("2030-05-03")  # Friday: 05-01 and 05-02 are off
    assert cal.workdays_between(D("2029-04-27"), D("2029-05-04")) == 3  # Mon 30, Thu 3, Fri 4
    # 春节 2028: 正月初一 is Wednesday 01-26, so 除夕 01-25 to 初三 01-28 are off
    assert [cal.is_workday(D(f"2028-01-{d}")) for d in (24, 25, 26, 27, 28, 31)] == [
        True, False, False, False, False, True]
    assert cal.add_workdays(D("2028-01-24"), 1) == D("2028-01-31")
    assert cal.is_provisional(D("2028-05-02"))


def test_a_partial_file_layers_on_the_rule_based_year():
    """Issue 12.9: one override for a future year keeps its rule-based holidays and its 暂定 mark."""
    cal = WorkCalendar({D("2028-06-16"): False})  # one county holiday (a Friday)
    assert not cal.is_workday(D("2028-06-16"))
    assert not cal.is_workday(D("2028-05-02")) and not cal.is_workday(D("2028-10-02"))
    assert not cal.is_workday(D("2028-01-26"))
    assert cal.is_provisional(D("2028-06-16"))
    official = WorkCalendar({D("2028-06-16"): False}, official_years=[2028])
    assert official.is_workday(D("2028-05-02"))  # the official file alone decides its holidays
    assert not official.is_provisional(D("2028-06-16"))


def test_never_raises_between_1900_and_2100():
    cal = WorkCalendar({D("2050-01-03"): False})
    for day in (D("1900-01-01"), D("1999-12-31"), D("2003-12-31"), D("2100-12-31")):
        cal.is_workday(day)
        cal.is_provisional(day)
        cal.next_workday(day)
        cal.add_workdays(day, 30)
        cal.add_workdays(day, -30)
        cal.workdays_between(day, day + timedelta(days=400))
        cal.provisional_between(day, day + timedelta(days=400))
    assert not cal.is_provisional(D("1990-06-01"))  # before the data: rule-based, not flagged
    assert cal.is_provisional(D("2100-12-31"))
    assert cal.is_provisional(D("2050-06-01"))  # one override does not make the year official
    assert not WorkCalendar({}, [2050]).is_provisional(D("2050-06-01"))


def test_overrides_win_inside_the_package_years():
    cal = WorkCalendar({D("2026-11-25"): False, D("2026-11-28"): True})
    assert not cal.is_workday(D("2026-11-25"))  # Wednesday made a rest day
    assert cal.is_workday(D("2026-11-28"))  # Saturday made a working day
    assert cal.add_workdays(D("2026-11-24"), 1) == D("2026-11-26")
    assert cal.workdays_between(D("2026-11-22"), D("2026-11-29")) == 5
    assert cal.workdays_in_year(2026) == 248


# --- the holidays import -------------------------------------------------------------------------

async def test_sample_file_makes_2027_final(db: Database):
    result = await import_file(db, "holidays", SAMPLE)
    assert result.added == 32 and result.updated == 0
    assert result.warnings == ["2027 年：已按全年正式安排计算，不再标注“暂定”"]
    assert result.summary().startswith("节假日安排导入完成：新增 32")
    cal = await load_calendar(db)
    assert not cal.is_provisional(D("2027-01-04"))
    assert not cal.provisional_between(D("2026-12-01"), D("2027-12-31"))
    assert cal.is_provisional(D("2028-01-03"))
    assert cal.is_workday(D("2027-02-20"))  # make-up Saturday
    assert cal.is_workday(D("2027-05-08"))  # make-up Saturday
    assert cal.is_workday(D("2027-09-26"))  # make-up Sunday
    assert not cal.is_workday(D("2027-02-08"))  # 春节 Monday
    assert not cal.is_workday(D("2027-10-04"))  # 国庆 Monday
    assert not cal.is_workday(D("2027-02-27"))  # an ordinary Saturday, not listed
    assert cal.is_workday(D("2027-03-01"))  # an ordinary Monday, not listed
    assert cal.add_workdays(D("2026-12-24"), 6) == D("2027-01-04")
    assert cal.add_workdays(D("2027-02-05"), 1) == D("2027-02-15")
    assert cal.add_workdays(D("2027-09-30"), 1) == D("2027-10-08")

    audits = await count(db, AuditEvent)
    again = await import_file(db, "holidays", SAMPLE)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 32)
    assert await count(db, AuditEvent) == audits


async def test_update_and_override_inside_2026(db: Database, tmp_path: Path):
    path = write_csv(tmp_path / "h.csv", [["2026-11-25", "放假", "县庆"], ["2026年11月28日", "补班", ""]])
    first = await import_file(db, "holidays", path, actor_user_id="admin1")
    assert first.added == 2
    cal = await load_calendar(db)
    assert not cal.is_workday(D("2026-11-25")) and cal.is_workday(D("2026-11-28"))

    path = write_csv(tmp_path / "h.csv", [["2026/11/25", "上班", "县庆取消"], ["20261128", "调休上班", ""]])
    second = await import_file(db, "holidays", path, actor_user_id="admin1")
    assert (second.added, second.updated, second.unchanged) == (0, 1, 1)
    async with db.read() as s:
        row = (await s.exec(select(HolidayOverride).where(HolidayOverride.day == D("2026-11-25")))).one()
        audits = (await s.exec(select(AuditEvent).where(AuditEvent.entity == "holiday"))).all()
    assert row.is_workday and row.note == "县庆取消"
    assert [a.action for a in audits].count("import.add") == 2
    update = next(a for a in audits if a.action == "import.update")
    assert update.entity_id == "2026-11-25" and update.actor_user_id == "admin1"
    assert json.loads(update.detail)["fields"]["is_workday"] == [False, True]
    assert (await load_calendar(db)).is_workday(D("2026-11-25"))


async def test_partial_file_keeps_the_year_provisional(db: Database, tmp_path: Path):
    """Issue 12.9: importing one day of 2028 used to make the whole year plain Monday to Friday, final."""
    path = write_csv(tmp_path / "h.csv", [["2028-06-16", "休息日", "县庆"]])
    await import_file(db, "holidays", path)
    cal = await load_calendar(db)
    assert not cal.is_workday(D("2028-06-16"))
    assert not cal.is_workday(D("2028-05-02")) and not cal.is_workday(D("2028-10-03"))
    assert cal.is_provisional(D("2028-06-16"))
    path = write_csv(tmp_path / "h.csv", [["2028-05-02", "休息日", "劳动节", "是"],
                                          ["2028-10-03", "休息日", "国庆节", "否"]],
                     headers=("日期", "类型", "说明", "全年正式安排"))
    with pytest.raises(ImportRejected, match="全年正式安排: 与第2行不一致"):
        await import_file(db, "holidays", path)
    path = write_csv(tmp_path / "h.csv", [["2028-05-01", "休息日", "劳动节", "是"]],
                     headers=("日期", "类型", "说明", "全年正式安排"))
    await import_file(db, "holidays", path)
    cal = await load_calendar(db)
    assert not cal.is_provisional(D("2028-06-16"))
    assert cal.is_workday(D("2028-05-02"))  # not in the official file: an ordinary Tuesday
    assert not cal.is_workday(D("2028-06-16"))  # the earlier day still applies


async def test_bad_file_writes_nothing(db: Database, tmp_path: Path):
    path = write_csv(tmp_path / "bad.csv", [
        ["2027-01-01", "休息日", ""],
        ["2027-02-30", "休息日", ""],
        ["2027-02-06", "半天", ""],
        ["2027/1/1", "工作日", ""],
        ["", "休息日", ""],
        ["2027-03-01", "", "x" * 51],
    ])
    with pytest.raises(ImportRejected) as exc:
        await import_file(db, "holidays", path)
    lines = exc.value.lines
    assert any(line.startswith("第3行 日期:") for line in lines)
    assert any(line.startswith("第4行 类型:") and "半天" in line for line in lines)
    assert "第5行 日期: 与第2行重复" in lines
    assert "第6行 日期: 不能为空" in lines
    assert "第7行 类型: 不能为空" in lines
    assert any(line.startswith("第7行 说明:") for line in lines)
    assert await count(db, HolidayOverride) == 0
    assert await count(db, AuditEvent) == 0


async def test_missing_column_and_kind_label(db: Database, tmp_path: Path):
    path = write_csv(tmp_path / "h.csv", [["2027-01-01"]], headers=("日期",))
    with pytest.raises(ImportRejected, match="缺少必填列：类型"):
        await import_file(db, "节假日安排", path)
