"""The project's one working-day calendar (docs/rules.md, 工作日与期限).

Sources, in order of precedence for a day d:
1. an administrator's override (table HolidayOverride, loaded by `import holidays`);
2. the `chinese_calendar` package (official arrangements with 调休) for the years it has data;
3. a rule-based calendar for every other year: Monday to Friday are working days, except the
   holidays of 《全国年节及纪念日放假办法》 as revised in 2024 (in force 2025) that a rule can place:
   元旦 1 January, 劳动节 1-2 May, 国庆节 1-3 October, and 春节 (除夕 to 初三) for the years in
   SPRING_FESTIVAL. 清明, 端午, 中秋 and the 调休 make-up days cannot be derived and are missing.

Overrides layer on top of the year's base calendar (package or rule-based): a partial file (one
county holiday, one correction) changes only its days. Only a year declared the official full-year
arrangement (`official_years`, table HolidayYear, set by `import holidays` with 全年正式安排=是) drops
the rule-based holidays: its base is plain Monday to Friday and the file alone decides.

Dates in years after the package's data that are not declared official are *provisional* (暂定):
messages must say so. Years before the package's data use the rule-based calendar without being flagged.

Counting follows chinese_calendar's `find_workday(n, start)`: the start day is not counted
(民法典 §201). Per-year tables of working-day flags and cumulative counts are built on first use,
so a lookup is one dict access and `add_workdays` / `workdays_between` cost O(log 366) plus the
number of years crossed. Nothing here raises for a date in 1900-2100.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from itertools import accumulate
from typing import TYPE_CHECKING, Protocol

import chinese_calendar
from sqlmodel import select

from models.calendar.tables import HolidayOverride, HolidayYear

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from sqlmodel.ext.asyncio.session import AsyncSession


class Database(Protocol):
    """What the calendar needs of the runtime's database: a read session."""

    def read(self) -> AbstractAsyncContextManager[AsyncSession]: ...

PROBE_YEARS = range(1900, 2101)  # years probed for the package's data
FIXED_HOLIDAYS = frozenset({(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)})  # (month, day), rule-based years
# 春节 (正月初一, Gregorian) for rule-based years; the holiday is 除夕 and 初一 to 初三 (four days since 2025).
SPRING_FESTIVAL = {2027: (2, 6), 2028: (1, 26), 2029: (2, 13), 2030: (2, 3), 2031: (1, 23), 2032: (2, 11),
                   2033: (1, 31), 2034: (2, 19), 2035: (2, 8)}

__all__ = ["FIXED_HOLIDAYS", "SPRING_FESTIVAL", "WorkCalendar", "load_calendar", "package_years", "rule_based_holidays"]


@cache
def package_years() -> tuple[int, int] | None:
    """(first, last) year that chinese_calendar has data for, found by probing; None if none."""
    years = []
    for year in PROBE_YEARS:
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
        except NotImplementedError:
            continue
        years.append(year)
    return (min(years), max(years)) if years else None


def _in_package(year: int) -> bool:
    span = package_years()
    return span is not None and span[0] <= year <= span[1]


def rule_based_holidays(year: int) -> set[date]:
    """The statutory holidays a rule can place in `year` (see the module docstring)."""
    days = {date(year, m, d) for m, d in FIXED_HOLIDAYS}
    if year in SPRING_FESTIVAL:
        new_year = date(year, *SPRING_FESTIVAL[year])
        days |= {new_year + timedelta(days=k) for k in (-1, 0, 1, 2)}
    return days


@cache
def _base_flags(year: int, official: bool) -> bytes:
    """One byte per day of `year` (1 = working day) before overrides are applied."""
    first = date(year, 1, 1)
    days = [first + timedelta(days=i) for i in range((date(year, 12, 31) - first).days + 1)]
    if _in_package(year):
        return bytes(chinese_calendar.is_workday(d) for d in days)
    if official:
        return bytes(d.weekday() < 5 for d in days)
    holidays = rule_based_holidays(year)
    return bytes(d.weekday() < 5 and d not in holidays for d in days)


@dataclass(frozen=True, slots=True)
class _Year:
    start: int  # ordinal of 1 January
    flags: bytes  # 1 = working day, indexed by day of year (0-based)
    cum: tuple[int, ...]  # cum[i] = working days among days 0..i of the year

    @property
    def total(self) -> int:
        return self.cum[-1]


def _day(d: date) -> date:
    return d.date() if isinstance(d, datetime) else d


class WorkCalendar:
    """Working days with 调休; `overrides` maps a date to True (working) or False (rest)."""

    def __init__(self, overrides: Mapping[date, bool] | None = None,
                 official_years: Iterable[int] = ()) -> None:
        self._official = frozenset(official_years)
        self._by_year: dict[int, dict[date, bool]] = {}
        for day, working in (overrides or {}).items():
            day = _day(day)
            self._by_year.setdefault(day.year, {})[day] = bool(working)
        self._years: dict[int, _Year] = {}

    # --- facts about the sources ---------------------------------------------------------------

    @property
    def data_years(self) -> tuple[int, int] | None:
        """(first, last) year of the chinese_calendar package's data."""
        return package_years()

    @property
    def loaded_years(self) -> frozenset[int]:
        """Years with at least one override."""
        return frozenset(self._by_year)

    @property
    def official_years(self) -> frozenset[int]:
        """Years whose official full-year arrangement was imported (not provisional)."""
        return self._official

    def _provisional_year(self, year: int) -> bool:
        span = package_years()
        last = span[1] if span else PROBE_YEARS.start - 1
        return year > last and year not in self._official

    # --- per-year tables -----------------------------------------------------------------------

    def _year(self, year: int) -> _Year:
        table = self._years.get(year)
        if table is None:
            table = self._years[year] = self._build(year)
        return table

    def _build(self, year: int) -> _Year:
        own = self._by_year.get(year, {})
        flags = bytearray(_base_flags(year, year in self._official))
        start = date(year, 1, 1).toordinal()
        for day, working in own.items():
            flags[day.toordinal() - start] = working
        return _Year(start, bytes(flags), tuple(accumulate(flags)))

    def _locate(self, d: date) -> tuple[_Year, int]:
        table = self._year(d.year)
        return table, d.toordinal() - table.start

    def _nth(self, year: int, target: int) -> date:
        """The working day whose running count within `year` is `target` (may spill over years)."""
        while True:
            table = self._year(year)
            if target < 1:
                year -= 1
                target += self._year(year).total
            elif target > table.total:
                target -= table.total
                year += 1
            else:
                return date.fromordinal(table.start + bisect_left(table.cum, target))

    # --- public API ----------------------------------------------------------------------------

    def is_workday(self, d: date) -> bool:
        """True on a working day (a 调休 make-up weekend included)."""
        table, i = self._locate(_day(d))
        return bool(table.flags[i])

    def is_provisional(self, d: date) -> bool:
        """True when `d` lies after the package's data in a year not declared official."""
        return self._provisional_year(d.year)

    def provisional_between(self, a: date, b: date) -> bool:
        """True when any date between `a` and `b` (both included, in either order) is provisional."""
        lo, hi = sorted((a.year, b.year))
        return any(self._provisional_year(y) for y in range(lo, hi + 1))

    def add_workdays(self, start: date, n: int) -> date:
        """Exactly chinese_calendar's `find_workday(n, start)`, for every year.

        n > 0: the n-th working day after `start`, the start day not counted. When `start` is a
        rest day, find_workday first moves it to the next working day, which is then the
        uncounted start: from Saturday 2026-03-07, n = 1 gives Tuesday 03-10, not Monday.
        n = 0: `start` if it is a working day, else the next one.
        n < 0: the |n|-th working day before `start`.
        """
        start = _day(start)
        table, i = self._locate(start)
        if n > 0:  # a rest-day start first moves to the next working day, as find_workday does
            target = table.cum[i] + n + (1 - table.flags[i])
        else:
            target = table.cum[i] - table.flags[i] + n + 1
        return self._nth(start.year, target)

    def next_workday(self, d: date) -> date:
        """`d` itself if it is a working day, else the next working day."""
        return self.add_workdays(d, 0)

    def workdays_between(self, a: date, b: date) -> int:
        """Working days d with a < d <= b; negative (the same count) when b < a."""
        a, b = _day(a), _day(b)
        if b < a:
            return -self.workdays_between(b, a)
        table_a, ia = self._locate(a)
        table_b, ib = self._locate(b)
        crossed = sum(self._year(y).total for y in range(a.year, b.year))
        return crossed + table_b.cum[ib] - table_a.cum[ia]

    def workdays_in_year(self, year: int) -> int:
        """Number of working days in `year`."""
        return self._year(year).total


async def load_calendar(db: Database) -> WorkCalendar:
    """The calendar with every HolidayOverride row applied and the official years marked."""
    async with db.read() as session:
        rows = (await session.exec(select(HolidayOverride))).all()
        years = (await session.exec(select(HolidayYear.year).where(HolidayYear.official == True))).all()  # noqa: E712
    return WorkCalendar({row.day: row.is_workday for row in rows}, years)
