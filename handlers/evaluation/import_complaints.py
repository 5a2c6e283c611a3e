"""Import kind `complaints` (投诉): 12345 热线 or 信访 rows — 日期, 单位, 类别, 摘要. A row already
imported (same 日期, 单位, 类别, 摘要) is counted as unchanged. They feed the 异常名录 rule."""

from __future__ import annotations

from bot.db import Database
from bot.importing.base import Column, ImportJob, KindSpec, parse_columns
from bot.importing.fields import parse_date, text
from bot.importing.reader import Row
from models.evaluation.imports import all_units, complaint_keys
from models.evaluation.tables import Complaint
from models.staffing.unit_match import UnitIndex

COLUMNS = (
    Column("日期", "day", parse_date, required=True),
    Column("单位", "unit", text(100), required=True),
    Column("类别", "category", text(20), required=True),
    Column("摘要", "summary", text(500), required=True),
)


async def load(db: Database, rows: list[Row], job: ImportJob) -> None:
    errors = job.errors
    parsed = [(row, parse_columns(row, COLUMNS, errors)) for row in rows]
    async with db.write() as session:
        units = UnitIndex(await all_units(session))
        for row, values in parsed:
            try:
                values["unit_id"] = units.id_of(values.pop("unit", "") or "")
            except LookupError as exc:
                errors.add(row.number, "单位", str(exc))
        errors.raise_if_any()
        known = await complaint_keys(session)
        for row, values in parsed:
            key = (values["day"], values["unit_id"], values["category"], values["summary"])
            if key in known:
                job.result.unchanged += 1
                continue
            known.add(key)
            job.upsert(session, None, Complaint, values, key=f"{values['day']}:{values['unit_id']}", row=row.number)


SPEC = KindSpec(
    kind="complaints", label="投诉", entity="complaint",
    headers=tuple(c.header for c in COLUMNS), required=tuple(c.header for c in COLUMNS if c.required), load=load,
    keys=(("日期", "单位", "类别", "摘要"),),
)
