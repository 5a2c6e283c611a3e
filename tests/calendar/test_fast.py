"""Fast tier: the holidays import reads and writes through models/calendar (queries.py, ops.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlmodel import select

from bot.importing import import_file
from models.audit import AuditEvent
from models.calendar.ops import mark_year
from models.calendar.queries import holiday_overrides
from models.calendar.tables import HolidayYear

HEADERS = "日期*,类型*,说明,全年正式安排\n"


def write(path: Path, lines: list[str]) -> Path:
    path.write_text(HEADERS + "".join(line + "\n" for line in lines), encoding="utf-8-sig")
    return path


async def test_a_year_is_marked_official_once_and_a_changed_day_is_updated(fast, tmp_path):
    db = fast.services.db
    first = await import_file(db, "holidays", write(tmp_path / "h.csv", ["2031-10-01,休息日,国庆,是"]))
    assert first.added == 1 and any("2031 年" in w for w in first.warnings)
    again = await import_file(db, "holidays", write(tmp_path / "h2.csv", ["2031-10-01,休息日,国庆节,是"]))
    assert (again.added, again.updated) == (0, 1) and not any("2031 年" in w for w in again.warnings)
    async with db.read() as session:
        days = {h.day: h for h in await holiday_overrides(session)}
        year = await session.get(HolidayYear, 2031)
        marks = (await session.exec(select(AuditEvent).where(AuditEvent.action == "import.calendar_year"))).all()
    assert days[date(2031, 10, 1)].note == "国庆节" and not days[date(2031, 10, 1)].is_workday
    assert year is not None and year.official and len(marks) == 1


async def test_mark_year_reports_whether_it_changed_anything(fast):
    async with fast.services.db.write() as session:
        assert await mark_year(session, year=2032, official=False, note="test.csv")
        assert not await mark_year(session, year=2032, official=False, note="test.csv")
        assert await mark_year(session, year=2032, official=True, note="test.csv")
