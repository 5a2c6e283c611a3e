"""Import kind `persons` (人员, the 实名制 snapshot). Key: (所在单位, 身份证号).

A clean file replaces the snapshot of every unit it mentions; units not in the file are untouched.
"Replace" holds at the result level: unchanged people are not rewritten, changed ones are updated
in place, people no longer listed are deleted (移出), all in one transaction. Columns absent from
the file keep the stored values of people already in the snapshot. The same 身份证号 may appear in
two units (the 预警 scan reports it as 一人多岗), not twice in one unit.

人员状态: only the values in models.staffing.persons are known; an unknown one is imported, counted as on the
books, and named in one warning. 借调/挂职开始日期 (optional) is when work in 实际工作单位 began; without
it the first import that shows the other unit is the start. The retirement category follows
models.staffing.retirement.category_of (人员类别 before 身份); a woman with neither gets no retirement month.
The rules are written out for offices in docs/rules.md.

After a clean import `result.unit_ids` (also `units_in_last_import(result)`) holds the units whose
warnings may have changed: the units in the file and the other units of people added or removed.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import Database
from bot.importing.base import (
    DETAIL_MAX,
    Column,
    ErrorLog,
    ImportJob,
    ImportResult,
    KindSpec,
    is_blank,
    parse_columns,
)
from bot.importing.fields import (
    choice,
    id_birth,
    id_sex,
    mask_id,
    parse_bool,
    parse_date,
    parse_id_number,
    text,
)
from bot.importing.reader import Row
from models.base import LOCAL_TZ, utcnow
from models.staffing.ops import PersonBatch, add_audit_row, refresh_statistics, remove_person, update_person
from models.staffing.persons import (
    KNOWN_STATUSES,
    LEADER_LEVELS,
    LEADER_RANKS,
    OFF_BOOKS_STATUSES,
    ON_BOOKS_STATUSES,
    STAFFING_TYPES,
    Person,
)
from models.staffing.queries import all_units, persons_of_units, units_holding
from models.staffing.retirement import CATEGORIES, FEMALE, category_of, retirement_month
from models.staffing.unit_match import UnitIndex

PERSON_KINDS = ("公务员", "参公", "事业管理", "专业技术", "工勤")
IDENTITIES = ("干部", "工人")

COLUMNS = (
    Column("身份证号", "id_number", parse_id_number, default=None, required=True),
    Column("姓名", "name", text(50), required=True),
    Column("性别", "sex", choice(("男", "女"), "性别"), default=None),
    Column("出生日期", "birth_date", parse_date, default=None),
    Column("所在单位", "unit_ref", text(100), required=True),
    Column("实际工作单位", "work_ref", text(100)),
    Column("编制类型", "staffing_type", choice(STAFFING_TYPES, "编制类型"), default=None, required=True),
    Column("人员类别", "category", choice(PERSON_KINDS, "人员类别")),
    Column("身份", "identity", choice(IDENTITIES, "身份")),
    Column("职务名称", "post", text(100)),
    Column("是否领导职务", "is_leader", parse_bool, default=False),
    Column("领导职数层级", "leader_level", choice(LEADER_LEVELS, "领导职数层级")),
    Column("正副", "leader_rank", choice(LEADER_RANKS, "正副")),
    Column("借调/挂职开始日期", "elsewhere_start", parse_date, default=None),
    Column("人员状态", "status", text(20), default="在编在岗"),
    Column("退休类别", "retire_category", choice(CATEGORIES, "退休类别")),
    Column("弹性延迟退休至", "flexible_until", parse_date, default=None),
    Column("备注", "note", text(200)),
)
# Defaults for a person new to the unit's snapshot when the file lacks the column.
DEFAULTS: dict[str, Any] = {"category": "", "identity": "", "post": "", "is_leader": False, "leader_level": "",
                            "leader_rank": "", "status": "在编在岗", "retire_category": "", "flexible_until": None,
                            "note": "", "work_unit_id": None}

Parsed = list[tuple[Row, dict[str, Any]]]
Key = tuple[int, str]  # (unit_id, id_number)


def units_in_last_import(result: ImportResult) -> set[int]:
    """The units whose warnings may have changed through this import (for an incremental scan)."""
    return set(getattr(result, "unit_ids", ()) or ())


async def load(db: Database, rows: list[Row], job: ImportJob) -> None:
    """Validate every row, then bring the snapshots of the units in the file to the file's state."""
    errors = job.errors
    parsed: Parsed = [(row, parse_columns(row, COLUMNS, errors)) for row in rows]
    for row, values in parsed:
        _check_person(row, values, errors)
    _check_statuses(parsed, job)
    job.result.unit_ids = set()  # type: ignore[attr-defined]
    async with db.write() as session:
        units = UnitIndex(await all_units(session))
        seen: dict[Key, int] = {}
        for row, values in parsed:
            _resolve_units(row, values, units, errors)
            unit_id, idn = values.get("unit_id"), values.get("id_number")
            if unit_id is not None and idn:
                if (unit_id, idn) in seen:
                    errors.add(row.number, "身份证号", f"与第{seen[unit_id, idn]}行重复（同一单位）")
                else:
                    seen[unit_id, idn] = row.number
        errors.raise_if_any()
        await _write(session, parsed, job)


def _check_person(row: Row, values: dict[str, Any], errors: ErrorLog) -> None:
    """Sex and birth date against the ID, leader fields, the retirement category against the sex."""
    idn = values.get("id_number")
    if idn:
        sex, born = id_sex(idn), id_birth(idn)
        if values.get("sex") and values["sex"] != sex:
            errors.add(row.number, "性别", f"“{values['sex']}”与身份证号不符（身份证号为{sex}性）")
        if values.get("birth_date") and values["birth_date"] != born:
            errors.add(row.number, "出生日期",
                       f"{values['birth_date'].isoformat()} 与身份证号不符（身份证号为 {born.isoformat()}）")
        values["sex"], values["birth_date"] = sex, born
    if values.get("is_leader"):
        for header in ("领导职数层级", "正副"):
            if is_blank(row.get(header)):
                errors.add(row.number, header, "是否领导职务为“是”时必须填写")
    override, gender = values.get("retire_category") or "", values.get("sex")
    if gender and ((override == "男" and gender != "男") or (override in FEMALE and gender != "女")):
        errors.add(row.number, "退休类别", f"“{override}”与性别“{gender}”不符")


def _check_statuses(parsed: Parsed, job: ImportJob) -> None:
    """An unknown 人员状态 is imported and counted as on the books, with one warning naming the rows."""
    unknown: dict[str, list[int]] = {}
    for row, values in parsed:
        status = values.get("status")
        if status and status not in KNOWN_STATUSES:
            unknown.setdefault(status, []).append(row.number)
    for status, rows in unknown.items():
        where = "、".join(f"第{n}行" for n in rows[:5]) + ("等" if len(rows) > 5 else "")
        job.result.warnings.append(
            f"{where}人员状态“{status}”不在已知取值中，按在编人员计算（在编：{'、'.join(ON_BOOKS_STATUSES)}；"
            f"不占编制：{'、'.join(OFF_BOOKS_STATUSES)}）")


def _resolve_units(row: Row, values: dict[str, Any], units: UnitIndex, errors: ErrorLog) -> None:
    """Replace 所在单位 / 实际工作单位 by ids; the same unit as 实际工作单位 means none."""
    ref = values.pop("unit_ref", None)
    if ref:
        try:
            values["unit_id"] = units.find(ref).id
        except LookupError as exc:
            errors.add(row.number, "所在单位", str(exc))
    if "work_ref" not in values:
        return
    work = values.pop("work_ref")
    values["work_unit_id"] = None
    if work:
        try:
            work_id = units.find(work).id
        except LookupError as exc:
            errors.add(row.number, "实际工作单位", str(exc))
            return
        values["work_unit_id"] = None if work_id == values.get("unit_id") else work_id


async def _write(session: AsyncSession, parsed: Parsed, job: ImportJob) -> None:
    unit_ids = {values["unit_id"] for _, values in parsed}
    stored: dict[Key, Person] = {(p.unit_id, p.id_number): p
                                 for p in await persons_of_units(session, unit_ids=sorted(unit_ids))}
    today = datetime.now(LOCAL_TZ).date()
    moved: set[str] = set()  # 身份证号 added or removed: their other units' 一人多岗 may change
    added = PersonBatch(session, utcnow(), DEFAULTS)
    for row, values in parsed:
        prev = stored.pop((values["unit_id"], values["id_number"]), None)
        values = _complete(values, prev, today)
        if prev is None:
            await added.add(values, _audit_row(job, "import.add", values, row.number,
                                               {k: _plain(v) for k, v in values.items()}))
            job.result.added += 1
            moved.add(values["id_number"])
            continue
        changes = {k: v for k, v in values.items() if getattr(prev, k) != v}
        if not changes:
            job.result.unchanged += 1
            continue
        detail = {k: [_plain(getattr(prev, k)), _plain(v)] for k, v in changes.items()}
        update_person(session, person=prev, changes=changes)
        job.result.updated += 1
        _audit(session, job, "import.update", values, row.number, detail)
    await added.flush()
    for person in stored.values():  # persons of these units no longer in the file: 移出
        moved.add(person.id_number)
        _audit(session, job, "import.remove", {"unit_id": person.unit_id, "id_number": person.id_number,
                                               "name": person.name}, 0, {"name": person.name})
        await remove_person(session, person=person)
    if stored:
        job.result.warnings.append(f"移出 {len(stored)} 人（所涉单位的原名单中有、本文件中没有）")
    job.result.unit_ids = unit_ids | await units_holding(session, id_numbers=moved)  # type: ignore[attr-defined]
    if job.result.added + len(stored) > 10_000:
        await refresh_statistics(session)


def _complete(values: dict[str, Any], prev: Person | None, today: date) -> dict[str, Any]:
    """The full row: file values, else stored values (same person), else defaults; derived fields."""
    out = {k: getattr(prev, k) if prev is not None else v for k, v in DEFAULTS.items()}
    out.update(values)
    stated = out.pop("elsewhere_start", None)
    if out["work_unit_id"] is None:
        out["work_elsewhere_since"], out["work_since_stated"] = None, False
    elif stated is not None:  # 借调/挂职开始日期 from the file: the real start
        out["work_elsewhere_since"], out["work_since_stated"] = stated, True
    elif prev is not None and prev.work_unit_id is not None and prev.work_elsewhere_since is not None:
        out["work_elsewhere_since"], out["work_since_stated"] = prev.work_elsewhere_since, prev.work_since_stated
    else:  # no start date given: counted from the first import that shows the other unit
        out["work_elsewhere_since"], out["work_since_stated"] = today, False
    category = category_of(out["sex"], out["identity"], out["retire_category"], out["category"], out["staffing_type"])
    out["retirement_month"] = retirement_month(out["birth_date"], category) if category else None
    return out


def _audit_row(job: ImportJob, action: str, values: dict[str, Any], row: int, fields: dict[str, Any],
               ) -> dict[str, Any]:
    """One audit row per person added, updated or removed; the 身份证号 is masked everywhere."""
    masked = mask_id(values["id_number"])
    fields = {k: (masked if k == "id_number" else v) for k, v in fields.items()}
    detail = {"file": job.source, "unit_id": values["unit_id"], "id_number": masked, "fields": fields}
    if row:
        detail["row"] = row
    text_ = json.dumps(detail, ensure_ascii=False)
    return dict(action=action, entity=job.entity, entity_id=masked, actor_user_id=job.actor_user_id,
                actor_account_id=None, detail=text_[:DETAIL_MAX])


def _audit(session: AsyncSession, job: ImportJob, action: str, values: dict[str, Any], row: int,
           fields: dict[str, Any]) -> None:
    add_audit_row(session, _audit_row(job, action, values, row, fields))


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


SPEC = KindSpec(
    kind="persons",
    label="人员",
    entity="person",
    headers=tuple(c.header for c in COLUMNS),
    required=tuple(c.header for c in COLUMNS if c.required),
    load=load,
    keys=(("所在单位", "身份证号"),),
)
