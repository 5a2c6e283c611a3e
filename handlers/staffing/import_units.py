"""Import kind `units` (单位). Key: 统一社会信用代码.

A blank 编制 or 职数 cell is stored as None ("not entered", 数据不全), never as 0: the 预警 rules skip a
figure that was not entered and say so once. 单位类别 is the truth for the rules; when it disagrees
with the kind the credit code's first two characters imply, the import says so (a warning, not an error).
"""

from __future__ import annotations

from typing import Any

from bot.db import Database
from bot.importing.base import Column, ErrorLog, ImportJob, KindSpec, first_seen, parse_columns
from bot.importing.fields import choice, parse_bool, parse_count, parse_date, parse_uscc, text
from bot.importing.reader import Row
from models.staffing.queries import all_units
from models.staffing.units import UNIT_KINDS, USCC_KINDS, Unit

COLUMNS = (
    Column("单位名称", "name", text(100), required=True),
    Column("单位简称", "short_name", text(50)),
    Column("统一社会信用代码", "uscc", parse_uscc, default=None, required=True),
    Column("单位类别", "kind", choice(UNIT_KINDS, "单位类别"), default=None, required=True),
    Column("是否参公", "is_cangong", parse_bool, default=False),
    Column("主管部门", "supervisor_name", text(100)),
    Column("所在乡镇", "town", text(50)),
    Column("行政编制", "est_admin", parse_count, default=None),
    Column("政法专项编制", "est_legal", parse_count, default=None),
    Column("事业编制", "est_public", parse_count, default=None),
    Column("工勤编制", "est_worker", parse_count, default=None),
    Column("单位领导正职职数", "posts_unit_chief", parse_count, default=None),
    Column("单位领导副职职数", "posts_unit_deputy", parse_count, default=None),
    Column("内设机构领导正职职数", "posts_dept_chief", parse_count, default=None),
    Column("内设机构领导副职职数", "posts_dept_deputy", parse_count, default=None),
    Column("更新日期", "data_updated_on", parse_date, default=None),
    Column("不纳入走访抽查", "visit_exempt", parse_bool, default=False),
)

Parsed = list[tuple[Row, dict[str, Any]]]


async def load(db: Database, rows: list[Row], job: ImportJob) -> None:
    """Validate every row, then upsert all of them in one transaction (or raise ImportRejected)."""
    errors = job.errors
    parsed: Parsed = [(row, parse_columns(row, COLUMNS, errors)) for row in rows]
    _check_file(parsed, errors)
    _check_kinds(parsed, job)
    async with db.write() as session:
        existing = {u.uscc: u for u in await all_units(session)}
        _check_names(parsed, existing, errors)
        errors.raise_if_any()
        for row, values in parsed:
            uscc = values["uscc"]
            job.upsert(session, existing.get(uscc), Unit, values, key=uscc, row=row.number)


def _check_file(parsed: Parsed, errors: ErrorLog) -> None:
    """Within the file: no USCC, 单位名称 or 单位简称 twice."""
    seen: dict[str, dict[Any, int]] = {"uscc": {}, "name": {}, "short_name": {}}
    headers = {"uscc": "统一社会信用代码", "name": "单位名称", "short_name": "单位简称"}
    for row, values in parsed:
        for attr, column in headers.items():
            if values.get(attr):
                first_seen(errors, seen[attr], values[attr], row.number, column)


def _check_kinds(parsed: Parsed, job: ImportJob) -> None:
    """单位类别 against the credit code's first two characters: a warning, 单位类别 is kept."""
    for row, values in parsed:
        uscc, kind = values.get("uscc"), values.get("kind")
        implied = USCC_KINDS.get((uscc or "")[:2])
        if uscc and kind and implied and implied != kind:
            job.result.warnings.append(
                f"第{row.number}行 {values.get('name') or uscc}：单位类别为“{kind}”，统一社会信用代码以 {uscc[:2]} 开头"
                f"（通常为{implied}）；预警按单位类别“{kind}”检查，请核对")


def _check_names(parsed: Parsed, existing: dict[str, Unit], errors: ErrorLog) -> None:
    """Against the database: a name or short name may not belong to another unit. Every lookup
    is a dict, so the check stays linear in the rows and the units."""
    by_name = {u.name: u for u in existing.values()}
    in_file = {values["uscc"] for _, values in parsed if values.get("uscc")}
    outside = [u for u in existing.values() if u.uscc not in in_file]
    outside_short: dict[str, Unit] = {}
    outside_names: dict[str, str] = {}  # a short name or name of a unit outside the file -> its name
    for u in outside:
        if u.short_name:
            outside_short.setdefault(u.short_name, u)
            outside_names.setdefault(u.short_name, u.name)
        outside_names.setdefault(u.name, u.name)
    file_names: dict[str, dict[str, None]] = {}  # a name in the file -> the USCCs carrying it
    for _, v in parsed:
        if v.get("uscc") and v.get("name"):
            file_names.setdefault(v["name"], {})[v["uscc"]] = None
    for row, values in parsed:
        uscc, name, short = values.get("uscc"), values.get("name"), values.get("short_name")
        if not uscc:
            continue
        owner = by_name.get(name) if name else None
        if owner is not None and owner.uscc != uscc:
            errors.add(row.number, "单位名称", f"已是另一单位的名称（统一社会信用代码 {owner.uscc}）")
        clash = outside_short.get(name) if name else None
        if clash is not None:
            errors.add(row.number, "单位名称", f"与“{clash.name}”的简称相同")
        if short:
            # a short name must not equal another unit's short name or full name
            other = outside_names.get(short)
            if other is None and any(u != uscc for u in file_names.get(short, ())):
                other = short
            if other is not None:
                errors.add(row.number, "单位简称", f"与单位“{other}”重复，无法区分")


SPEC = KindSpec(
    kind="units",
    label="单位",
    entity="unit",
    headers=tuple(c.header for c in COLUMNS),
    required=tuple(c.header for c in COLUMNS if c.required),
    load=load,
    keys=(("统一社会信用代码",), ("单位名称",), ("单位简称",)),
)
