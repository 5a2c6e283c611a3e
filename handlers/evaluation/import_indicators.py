"""Import kind `indicators` (考评指标). Key: 指标名称. 计分规则 is an automatic rule's name (整改, 预警,
实名制, 监督员反馈, 走访, 审批) or 人工; 适用单位 is 全部 (or empty) or a list of units."""

from __future__ import annotations

from typing import Any

from bot.db import Database
from bot.importing.base import Column, ImportJob, KindSpec, first_seen, parse_columns
from bot.importing.fields import as_text, choice, parse_list, text
from bot.importing.reader import Row
from models.evaluation.imports import all_units, indicators_by_name
from models.evaluation.rules import RULE_NAMES
from models.evaluation.tables import CATEGORIES, MANUAL, METHODS, Indicator
from models.staffing.unit_match import UnitIndex


def parse_mark(value: Any) -> float:
    try:
        mark = float(as_text(value))
    except ValueError:
        raise ValueError(f"应为数字，而不是“{as_text(value)}”") from None
    if not 0 < mark <= 100:
        raise ValueError("应在 0 到 100 之间")
    return mark


def parse_rule(value: Any) -> str:
    rule = as_text(value).removeprefix("自动").strip("：: ") or MANUAL
    if rule != MANUAL and rule not in RULE_NAMES:
        raise ValueError(f"未知计分规则“{rule}”（可选：{'、'.join(RULE_NAMES)}、人工）")
    return rule


COLUMNS = (
    Column("指标名称", "name", text(100), required=True),
    Column("类别", "category", choice(CATEGORIES, "类别"), required=True),
    Column("监管方式", "method", choice(METHODS, "监管方式"), required=True),
    Column("满分", "full_mark", parse_mark, required=True),
    Column("计分规则", "rule", parse_rule, default=MANUAL),
    Column("适用单位", "units", parse_list, default=None),
    Column("说明", "note", text(500)),
)


async def load(db: Database, rows: list[Row], job: ImportJob) -> None:
    errors = job.errors
    parsed = [(row, parse_columns(row, COLUMNS, errors)) for row in rows]
    seen: dict[Any, int] = {}
    async with db.write() as session:
        units = UnitIndex(await all_units(session))
        for row, values in parsed:
            if values.get("name"):
                first_seen(errors, seen, values["name"], row.number, "指标名称")
            refs = [r for r in values.pop("units", None) or [] if r not in ("全部", "所有单位")]
            ids = []
            for ref in refs:
                try:
                    ids.append(units.id_of(ref))
                except LookupError as exc:
                    errors.add(row.number, "适用单位", str(exc))
            values["unit_ids"] = ",".join(str(i) for i in sorted(set(ids), key=lambda i: i or 0))
        errors.raise_if_any()
        existing = await indicators_by_name(session)
        for row, values in parsed:
            job.upsert(session, existing.get(values["name"]), Indicator, values, key=values["name"], row=row.number)


SPEC = KindSpec(
    kind="indicators", label="考评指标", entity="indicator",
    headers=tuple(c.header for c in COLUMNS), required=tuple(c.header for c in COLUMNS if c.required), load=load,
    keys=(("指标名称",),),
)
