"""Import kind `holidays` (节假日安排): the official arrangement of a year the package lacks,
or a local correction. Key: 日期.

One row per day that differs from an ordinary week: 休息日 (a holiday, 放假) or 工作日 (a 调休
make-up working day). Loading any day of a year makes that year's calendar final rather than
provisional (models.workdays); days not listed follow Monday to Friday. Rows are never deleted:
to undo a day, import it again with the other 类型.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import select

from bot.db import Database
from bot.importing.base import Column, ImportJob, KindSpec, _plain, first_seen, parse_columns
from bot.importing.fields import as_text, parse_date, text
from bot.importing.reader import Row
from models.calendar_data import HolidayOverride

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
)


async def load(db: Database, rows: list[Row], job: ImportJob) -> None:
    """Validate every row, then upsert all days in one transaction (or raise ImportRejected)."""
    errors = job.errors
    parsed = [(row, parse_columns(row, COLUMNS, errors)) for row in rows]
    seen: dict[Any, int] = {}
    for row, values in parsed:
        if values.get("day") is not None:
            first_seen(errors, seen, values["day"], row.number, "日期")
    errors.raise_if_any()
    async with db.write() as session:
        existing = {h.day: h for h in (await session.exec(select(HolidayOverride))).all()}
        for row, values in parsed:
            day = values["day"]
            _upsert(session, job, existing.get(day), values, key=day.isoformat(), row=row.number)


def _upsert(session: Any, job: ImportJob, existing: HolidayOverride | None, values: dict[str, Any],
            *, key: str, row: int) -> None:
    """job.upsert for new and unchanged rows; HolidayOverride has no `updated_at`, which
    ImportJob.upsert sets on an update, so a changed row is updated here with the same audit."""
    changes = {} if existing is None else {k: v for k, v in values.items() if getattr(existing, k) != v}
    if existing is None or not changes:
        job.upsert(session, existing, HolidayOverride, values, key=key, row=row)
        return
    detail = {k: [_plain(getattr(existing, k)), _plain(v)] for k, v in changes.items()}
    for k, v in changes.items():
        setattr(existing, k, v)
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
