"""Import kind `scores` (人工评分): 单位, 指标, 得分, 依据, 年度 (default: this year), e.g. the
履职考评系统 export, 群众满意度 survey results or 重点工作 results. Each row is audited like `评分`."""

from __future__ import annotations

from typing import Any

from bot.db import Database
from bot.importing.base import Column, ImportJob, KindSpec, parse_columns
from bot.importing.fields import as_text, parse_count, text
from bot.importing.reader import Row
from models.base import LOCAL_TZ, utcnow
from models.evaluation.imports import all_units, indicators_by_name
from models.evaluation.ops import set_manual_score
from models.staffing.unit_match import UnitIndex


def parse_score(value: Any) -> float:
    try:
        score = float(as_text(value))
    except ValueError:
        raise ValueError(f"应为数字，而不是“{as_text(value)}”") from None
    if score < 0:
        raise ValueError("不能为负数")
    return score


COLUMNS = (
    Column("单位", "unit", text(100), required=True),
    Column("指标", "indicator", text(100), required=True),
    Column("得分", "score", parse_score, required=True),
    Column("依据", "basis", text(500), required=True),
    Column("年度", "year", parse_count, default=None),
)


async def load(db: Database, rows: list[Row], job: ImportJob) -> None:
    errors = job.errors
    parsed = [(row, parse_columns(row, COLUMNS, errors)) for row in rows]
    this_year = utcnow().astimezone(LOCAL_TZ).year
    async with db.write() as session:
        units = UnitIndex(await all_units(session))
        indicators = await indicators_by_name(session)
        ready = []
        for row, values in parsed:
            unit = indicator = None
            try:
                unit = units.find(values.get("unit") or "")
            except LookupError as exc:
                errors.add(row.number, "单位", str(exc))
            indicator = indicators.get(values.get("indicator") or "")
            if indicator is None and values.get("indicator"):
                errors.add(row.number, "指标", f"没有指标“{values['indicator']}”，请先导入考评指标")
            if indicator is not None and values.get("score", 0) > indicator.full_mark:
                errors.add(row.number, "得分", f"超过该指标满分 {indicator.full_mark:g}")
            if unit is not None and indicator is not None:
                ready.append((row, unit, indicator, values))
        errors.raise_if_any()
        for _row, unit, indicator, values in ready:
            await set_manual_score(session, year=values.get("year") or this_year, unit_id=unit.id, indicator=indicator,  # type: ignore[arg-type]
                                   score=values["score"], basis=values["basis"], actor_user_id=job.actor_user_id,
                                   source=f"文件 {job.source}")
            job.result.added += 1


SPEC = KindSpec(
    kind="scores", label="人工评分", entity="manual_score",
    headers=tuple(c.header for c in COLUMNS), required=tuple(c.header for c in COLUMNS if c.required), load=load,
    keys=(("单位", "指标", "年度"),),
)
