"""The calendar cliff: is a year's official holiday arrangement known?

A year is covered when the chinese_calendar package has its data, or when an administrator
imported its official full-year arrangement (`import holidays` with 全年正式安排=是). A partial
file (one county holiday, one correction) does not cover a year: it stays provisional. From
1 November the next year must be covered too: the State Council publishes the arrangement in
October-December, and deadlines and reminders soon reach into January.
This is the one place that decides coverage (doctor and the weekly reminder both ask here).
"""

from __future__ import annotations

from datetime import date, timedelta

from models.calendar.workdays import WorkCalendar

CLIFF_MONTH = 11  # from 1 November the next year's arrangement is wanted
LOOKAHEAD_DAYS = 60


def year_covered(cal: WorkCalendar, year: int) -> bool:
    """True when `year` is covered by the package's data or by an imported official full-year arrangement."""
    span = cal.data_years
    return (span is not None and span[0] <= year <= span[1]) or year in cal.official_years


def missing_years(cal: WorkCalendar, today: date, days: int = LOOKAHEAD_DAYS) -> list[int]:
    """Years between today and `days` later (and next year from 1 November) that are not covered."""
    last = (today + timedelta(days=days)).year
    if today.month >= CLIFF_MONTH:
        last = max(last, today.year + 1)
    return [y for y in range(today.year, last + 1) if not year_covered(cal, y)]


def cliff_year(cal: WorkCalendar, today: date) -> int | None:
    """Next year, when it is 1 November or later and next year is not covered yet."""
    if today.month >= CLIFF_MONTH and not year_covered(cal, today.year + 1):
        return today.year + 1
    return None


def cliff_advice(year: int) -> str:
    """What an administrator must do, in one paragraph (the weekly reminder and `doctor`)."""
    return (f"{year} 年的法定节假日安排尚未载入，涉及 {year} 年的工作日暂按周一至周五计算（标注“暂定”）。"
            f"请在国务院办公厅公布 {year} 年部分节假日安排后（通常在 10-12 月），二选一："
            f"① 升级节假日数据：pip install -U chinesecalendar"
            f"（离线服务器用新的 wheelhouse 重新 make install-offline），然后重启机器人；"
            f"② 按通知整理全年安排文件（列：日期、类型=休息日/工作日、说明、全年正式安排=是），运行 "
            f"python -m bot -c config.toml import holidays 文件。"
            f"载入后本提醒自动停止，可用 python -m bot -c config.toml doctor 核对。")
