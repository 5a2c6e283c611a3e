"""The calendar cliff: from 1 November, a weekly reminder to the administrators until next year is loaded."""

from __future__ import annotations

from pathlib import Path

from bot.emulator import Emulator
from bot.importing import import_file
from jobs.calendar import remind_calendar_cliff
from models.calendar.coverage import cliff_year, missing_years, year_covered
from models.calendar.workdays import WorkCalendar
from tests.conftest import FakeClock, beijing

SAMPLE_2027 = Path(__file__).resolve().parents[2] / "bot" / "demo" / "holidays-2027.csv"
PACKAGE_LAST = WorkCalendar().data_years[1]  # type: ignore[index]


def test_coverage_by_package_or_import():
    from datetime import date

    plain = WorkCalendar()
    assert year_covered(plain, PACKAGE_LAST) and not year_covered(plain, PACKAGE_LAST + 1)
    partial = WorkCalendar({date(PACKAGE_LAST + 1, 1, 1): False})  # one county day: still provisional
    assert not year_covered(partial, PACKAGE_LAST + 1)
    loaded = WorkCalendar({date(PACKAGE_LAST + 1, 1, 1): False}, official_years=[PACKAGE_LAST + 1])
    assert year_covered(loaded, PACKAGE_LAST + 1)
    assert cliff_year(plain, date(PACKAGE_LAST, 10, 31)) is None
    assert cliff_year(plain, date(PACKAGE_LAST, 11, 1)) == PACKAGE_LAST + 1
    assert cliff_year(loaded, date(PACKAGE_LAST, 11, 1)) is None
    assert missing_years(plain, date(PACKAGE_LAST, 9, 1)) == []
    assert missing_years(plain, date(PACKAGE_LAST, 11, 15)) == [PACKAGE_LAST + 1]


def _cliff_pushes(emulator: Emulator, year: int) -> list[str]:
    return [s.text for s in emulator.pushes_to("admin1") if f"{year} 年的法定节假日安排尚未载入" in s.text]


async def test_weekly_reminder_from_november_until_imported(make_bot, emulator: Emulator):  # type: ignore[no-untyped-def]
    assert PACKAGE_LAST == 2026, "the sample arrangement file is for 2027"
    clock = FakeClock(beijing("2026-10-26 09:05"))
    app = await make_bot(clock=clock)
    assert await remind_calendar_cliff(app.services) == 0  # October: nothing yet

    clock.set(beijing("2026-11-02 09:05"))  # the first Monday of November
    assert await remind_calendar_cliff(app.services) == 1
    await emulator.wait_until(lambda: _cliff_pushes(emulator, 2027))
    [text] = _cliff_pushes(emulator, 2027)
    assert "import holidays" in text and "pip install -U chinesecalendar" in text and "doctor" in text
    assert await remind_calendar_cliff(app.services) == 0  # once a week

    clock.set(beijing("2026-11-09 09:05"))
    assert await remind_calendar_cliff(app.services) == 1  # the next week again
    await emulator.wait_until(lambda: len(_cliff_pushes(emulator, 2027)) == 2)

    await import_file(app.db, "holidays", SAMPLE_2027)
    app.services._calendar = None  # the calendar is re-read every minute; don't wait for it
    clock.set(beijing("2026-11-16 09:05"))
    assert await remind_calendar_cliff(app.services) == 0


async def test_job_is_scheduled_weekly(bot):  # type: ignore[no-untyped-def]
    job = bot.scheduler.get_job("calendar-cliff")
    assert job is not None and "mon" in str(job.trigger) and "hour='9'" in str(job.trigger)
