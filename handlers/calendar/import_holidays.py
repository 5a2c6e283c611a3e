"""Import kind `holidays` (节假日安排): the official arrangement of a year the package lacks,
or a local correction. Key: 日期.

One row per day that differs from an ordinary week: 休息日 (a holiday, 放假) or 工作日 (a 调休
make-up working day). The listed days layer on top of the year's calendar: a partial file (a
county holiday, one correction) changes only its days, and a future year stays provisional (暂定)
with its rule-based holidays. A file declares itself the official full-year arrangement of a year
with the optional column 全年正式安排 = 是 on that year's rows: the year then drops its rule-based
holidays (days not listed follow Monday to Friday) and is no longer provisional. Every row of one
year must give the same 全年正式安排. Rows are never deleted: to undo a day, import it again with the
other 类型.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.db import Database
from bot.importing.base import Column, ErrorLog, ImportJob, KindSpec, _plain, first_seen, parse_columns
from bot.importing.fields import as_text, parse_bool, parse_date, text
from bot.importing.reader import Row
from models.calendar.ops import mark_year, update_override
from models.calendar.queries import holiday_overrides
from models.calendar.tables import HolidayOverride

MIN_YEAR, MAX_YEAR = 1900, 2100
REST_WORDS = ("休息日", "休息", "放假", "假日", "节假日")
WORK_WORDS = ("工作日", "上班", "调休上班", "补班")


def parse_day_type(value: Any) -> bool:
    """休息日 → False, 工作日 → True (synonyms accepted)."""
    raw = as_text(value).replace(" ", "")
    if raw in REST_WORDS:
        return False
    if raw in WORK_WORDS:
        return True
    raise ValueError(f"未知类型“{raw}”（可选：休息日、工作日）")


def parse_day(value: Any) -> date:
    """A date in the years the calendar handles."""
    day = parse_date(value)
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValueError(f"年份应在{MIN_YEAR}至{MAX_YEAR}之间")
    return day


COLUMNS = (
    Column("日期", "day", parse_day, default=None, required=True),
    Column("类型", "is_workday", parse_day_type, default=None, required=True),
    Column("说明", "note", text(50)),
    Column("全年正式安排", "official", parse_bool, default=None),
)


async def load(db: Database, rows: list[Row], job: ImportJob) -> None:
    """Validate every row, then upsert all days in one transaction (or raise ImportRejected)."""
    errors = job.errors
    parsed = [(row, parse_columns(row, COLUMNS, errors)) for row in rows]
    seen: dict[Any, int] = {}
    for row, values in parsed:
        if values.get("day") is not None:
            first_seen(errors, seen, values["day"], row.number, "日期")
    official = _official_years(parsed, errors)
    errors.raise_if_any()
    async with db.write() as session:
        existing = {h.day: h for h in await holiday_overrides(session)}
        for row, values in parsed:
            day = values["day"]
            _upsert(session, job, existing.get(day), values, key=day.isoformat(), row=row.number)
        for year, flag in sorted(official.items()):
            await _mark_year(session, job, year, flag)


def _official_years(parsed: list[tuple[Row, dict[str, Any]]], errors: ErrorLog) -> dict[int, bool]:
    """{year: 全年正式安排} for the years whose rows fill that column; the column is not stored per day."""
    years: dict[int, tuple[bool, int]] = {}
    for row, values in parsed:
        flag, day = values.pop("official", None), values.get("day")
        if flag is None or day is None:
            continue
        first = years.setdefault(day.year, (flag, row.number))
        if first[0] != flag:
            errors.add(row.number, "全年正式安排", f"与第{first[1]}行不一致（同一年份应相同）")
    return {year: flag for year, (flag, _) in years.items()}


async def _mark_year(session: Any, job: ImportJob, year: int, official: bool) -> None:
    """Record (and audit) whether `year`'s imported days are its official full-year arrangement."""
    if not await mark_year(session, year=year, official=official, note=job.source):
        return
    job._audit(session, "import.calendar_year", str(year), 0, {"official": official})
    state = "已按全年正式安排计算，不再标注“暂定”" if official else "不再作为全年正式安排"
    job.result.warnings.append(f"{year} 年：{state}")


def _upsert(session: Any, job: ImportJob, existing: HolidayOverride | None, values: dict[str, Any],
            *, key: str, row: int) -> None:
    """job.upsert for new and unchanged rows; HolidayOverride has no `updated_at`, which
    ImportJob.upsert sets on an update, so a changed row is updated here with the same audit."""
    changes = {} if existing is None else {k: v for k, v in values.items() if getattr(existing, k) != v}
    if existing is None or not changes:
        job.upsert(session, existing, HolidayOverride, values, key=key, row=row)
        return
    detail = {k: [_plain(getattr(existing, k)), _plain(v)] for k, v in changes.items()}
    update_override(session, day=existing, changes=changes)
    job.result.updated += 1
    job._audit(session, "import.update", key, row, detail)


SPEC = KindSpec(
    kind="holidays",
    label="节假日安排",
    entity="holiday",
    headers=tuple(c.header for c in COLUMNS),
    required=tuple(c.header for c in COLUMNS if c.required),
    load=load,
    keys=(("日期",),),
)
