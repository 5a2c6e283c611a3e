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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import RowMapping

from bot.db import Database
from bot.importing.base import (
    DETAIL_MAX,
    Column,
    DuplicateLog,
    ErrorLog,
    ImportJob,
    ImportResult,
    KindSpec,
    Overlap,
    batched,
    breathe,
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
from models.staffing.ops import refresh_statistics
from models.staffing.persons import (
    KNOWN_STATUSES,
    LEADER_LEVELS,
    LEADER_RANKS,
    OFF_BOOKS_STATUSES,
    ON_BOOKS_STATUSES,
    STAFFING_TYPES,
)
from models.staffing.queries import units_holding
from models.staffing.retirement import CATEGORIES, FEMALE, category_of, retirement_month
from models.staffing.snapshot import SnapshotWriter
from models.staffing.unit_match import UnitIndex, UnitRef, unit_refs

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
KEY = ("所在单位", "身份证号")  # unique within a file, once 所在单位 is resolved (a name and a short name are one unit)
KEY_COLUMNS = "+".join(KEY)
CHUNK = 5000  # rows checked and written together
UNWRITTEN_KEPT = 10_000  # keys of rows with problems remembered for the repeat check (the file is refused anyway)


def units_in_last_import(result: ImportResult) -> set[int]:
    """The units whose warnings may have changed through this import (for an incremental scan)."""
    return set(getattr(result, "unit_ids", ()) or ())


async def load(db: Database, rows: Iterable[Row], job: ImportJob) -> None:
    """Check and write the file a chunk at a time in one transaction; any problem rolls it all back.

    Chunk N is written while chunk N+1 is checked and built (bot.importing.base.Overlap), so chunk N+1 is
    looked up before chunk N is in the database: the keys of the persons chunk N adds stay in
    `Snapshot.unwritten` until a lookup can see them."""
    errors, statuses = job.errors, StatusNotes()
    async with db.write() as session:
        units = UnitIndex(await unit_refs(session))
        state = Snapshot(job, SnapshotWriter(session, utcnow()), datetime.now(LOCAL_TZ).date())
        await state.writer.start()
        try:
            await _write_rows(state, rows, units, statuses)
            for row_number, earlier in state.writer.repeats():
                state.repeats.add(row_number, KEY_COLUMNS, earlier)
            state.repeats.close()
            statuses.warn(job.result.warnings)
            errors.raise_if_any()
            removed = await _remove_unlisted(state.writer, job)
            touched = state.writer.unit_ids | state.others | await units_holding(session, id_numbers=removed)
            job.result.unit_ids = touched  # type: ignore[attr-defined]
        finally:
            await state.writer.finish()
        if job.result.added + len(removed) > 10_000:
            await refresh_statistics(session)


async def _write_rows(state: Snapshot, rows: Iterable[Row], units: UnitIndex[UnitRef], statuses: StatusNotes) -> None:
    """Every chunk checked, looked up, built and written; chunk N is written while chunk N+1 is checked."""
    async with Overlap(enabled=state.writer.overlaps) as overlap:
        waiting: Chunk | None = None  # built, written after the next chunk's lookup
        writing: Chunk | None = None  # being written while the next chunk is checked and built
        for rows_ in batched(rows, CHUNK):
            checked = await _check_chunk(rows_, units, state.job.errors, statuses)
            await overlap.wait()
            if writing is not None:
                writing.visible(state.unwritten)
            stored = await state.writer.stored(values["id_number"] for _, values, _ in checked)
            if waiting is not None:
                await overlap.submit(waiting.write(state.writer))
            writing, waiting = waiting, await state.build(checked, stored)
        if waiting is not None:
            await overlap.submit(waiting.write(state.writer))


async def _check_chunk(chunk: list[Row], units: UnitIndex[UnitRef], errors: ErrorLog, statuses: StatusNotes,
                       ) -> list[tuple[Row, dict[str, Any], bool]]:
    """Each row parsed and checked, with whether it is good; rows without a key are left out."""
    checked = []
    for done, row in enumerate(chunk, 1):
        found = errors.count
        values = parse_columns(row, COLUMNS, errors)
        _check_person(row, values, errors)
        statuses.add(row.number, values.get("status"))
        _resolve_units(row, values, units, errors)
        if values.get("unit_id") is not None and values.get("id_number"):  # a key: checked for repeats
            checked.append((row, values, errors.count == found))
        await breathe(done)
    return checked


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


_KNOWN = frozenset(KNOWN_STATUSES)


class StatusNotes:
    """An unknown 人员状态 is imported and counted as on the books, with one warning naming the rows."""

    SHOWN = 5

    def __init__(self) -> None:
        self.rows: dict[str, list[int]] = {}
        self.counts: dict[str, int] = {}

    def add(self, row: int, status: str | None) -> None:
        if status and status not in _KNOWN:
            self.counts[status] = self.counts.get(status, 0) + 1
            shown = self.rows.setdefault(status, [])
            if len(shown) < self.SHOWN:
                shown.append(row)

    def warn(self, warnings: list[str]) -> None:
        for status, rows in self.rows.items():
            where = "、".join(f"第{n}行" for n in rows) + ("等" if self.counts[status] > self.SHOWN else "")
            warnings.append(
                f"{where}人员状态“{status}”不在已知取值中，按在编人员计算（在编：{'、'.join(ON_BOOKS_STATUSES)}；"
                f"不占编制：{'、'.join(OFF_BOOKS_STATUSES)}）")


def _resolve_units(row: Row, values: dict[str, Any], units: UnitIndex[UnitRef], errors: ErrorLog) -> None:
    """Replace 所在单位 / 实际工作单位 by ids; the same unit as 实际工作单位 means none."""
    ref = values.pop("unit_ref", None)
    if ref:
        try:
            values["unit_id"] = units.id_of(ref)
        except LookupError as exc:
            errors.add(row.number, "所在单位", str(exc))
    if "work_ref" not in values:
        return
    work = values.pop("work_ref")
    values["work_unit_id"] = None
    if work:
        try:
            work_id = units.id_of(work)
        except LookupError as exc:
            errors.add(row.number, "实际工作单位", str(exc))
            return
        values["work_unit_id"] = None if work_id == values.get("unit_id") else work_id


@dataclass
class Chunk:
    """What a chunk of the file changes: new persons (row, values) and changed ones (id, values), each
    with its audit rows."""

    new: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    added: list[dict[str, Any]] = field(default_factory=list)
    changed: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)

    async def write(self, writer: SnapshotWriter) -> None:
        await writer.add(self.new, self.added)
        await writer.update(self.changed, self.updated)

    def visible(self, unwritten: dict[Key, int]) -> None:
        """Written: the next lookups find these new persons in the database."""
        for _, values in self.new:
            unwritten.pop((values["unit_id"], values["id_number"]), None)


@dataclass
class Snapshot:
    """One persons import: what it carries from chunk to chunk."""

    job: ImportJob
    writer: SnapshotWriter
    today: date
    repeats: DuplicateLog = field(init=False)
    others: set[int] = field(default_factory=set)  # other units of the persons added: their 一人多岗 may change
    unwritten: dict[Key, int] = field(default_factory=dict)  # key → row of new persons no lookup can see yet

    def __post_init__(self) -> None:
        self.repeats = DuplicateLog(self.job.errors)
        self._source = json.dumps(self.job.source, ensure_ascii=False)

    def added_audit(self, values: dict[str, Any], row: int) -> dict[str, Any]:
        """The audit row of a person added: what _audit_row writes with fields {name}, put together
        directly (a million of them in a large first import)."""
        masked, name = mask_id(values["id_number"]), encode_basestring(values["name"])
        detail = (f'{{"file": {self._source}, "unit_id": {values["unit_id"]}, "id_number": "{masked}", '
                  f'"fields": {{"name": {name}}}, "row": {row}}}')
        job = self.job
        return dict(action="import.add", entity=job.entity, entity_id=masked, actor_user_id=job.actor_user_id,
                    actor_account_id=None, detail=detail[:DETAIL_MAX])

    async def build(self, checked: list[tuple[Row, dict[str, Any], bool]], stored: list[RowMapping]) -> Chunk:
        """Add, update or keep each good row of a chunk against the stored persons with its 身份证号. Rows
        with problems are not written but still take part in the check for repeated keys."""
        job, unwritten = self.job, self.unwritten
        by_key = {(p["unit_id"], p["id_number"]): p for p in stored}
        holders: dict[str, set[int]] = {}
        for p in stored:
            holders.setdefault(p["id_number"], set()).add(p["unit_id"])
        chunk = Chunk()
        for done, (row, values, good) in enumerate(checked, 1):
            await breathe(done)
            key: Key = (values["unit_id"], values["id_number"])
            prev = by_key.get(key)
            if prev is not None:
                self.writer.keep(prev["id"], row.number, key[0])  # repeats of a stored person are found at the end
            elif key in unwritten:
                self.repeats.add(row.number, KEY_COLUMNS, unwritten[key])
                continue
            elif good or len(unwritten) < UNWRITTEN_KEPT:
                unwritten[key] = row.number
            if not good:
                continue
            values = _complete(values, prev, self.today)
            if prev is None:
                chunk.new.append((row.number, values))
                chunk.added.append(self.added_audit(values, row.number))
                self.others.update(holders.get(key[1], ()))
                continue
            changes = {k: v for k, v in values.items() if prev[k] != v}
            if not changes:
                job.result.unchanged += 1
                continue
            chunk.changed.append((prev["id"], values))
            chunk.updated.append(_audit_row(job, "import.update", values, row.number,
                                            {k: [prev[k], v] for k, v in changes.items()}))
        job.result.added += len(chunk.new)
        job.result.updated += len(chunk.changed)
        return chunk


async def _remove_unlisted(writer: SnapshotWriter, job: ImportJob) -> set[str]:
    """移出: the persons of the file's units that it no longer lists. Their 身份证号."""
    removed: set[str] = set()
    async for batch in writer.unlisted():
        audits = [_audit_row(job, "import.remove", p, 0, _stated(p)) for p in batch]
        await writer.remove([p["id"] for p in batch], audits)
        removed.update(p["id_number"] for p in batch)
    if removed:
        job.result.warnings.append(f"移出 {len(removed)} 人（所涉单位的原名单中有、本文件中没有）")
    return removed


def _complete(values: dict[str, Any], prev: RowMapping | None, today: date) -> dict[str, Any]:
    """The full row: file values, else stored values (same person), else defaults; derived fields."""
    out = dict(DEFAULTS) if prev is None else {k: prev[k] for k in DEFAULTS}
    out.update(values)
    stated = out.pop("elsewhere_start", None)
    if out["work_unit_id"] is None:
        out["work_elsewhere_since"], out["work_since_stated"] = None, False
    elif stated is not None:  # 借调/挂职开始日期 from the file: the real start
        out["work_elsewhere_since"], out["work_since_stated"] = stated, True
    elif prev is not None and prev["work_unit_id"] is not None and prev["work_elsewhere_since"] is not None:
        out["work_elsewhere_since"], out["work_since_stated"] = prev["work_elsewhere_since"], prev["work_since_stated"]
    else:  # no start date given: counted from the first import that shows the other unit
        out["work_elsewhere_since"], out["work_since_stated"] = today, False
    category = category_of(out["sex"], out["identity"], out["retire_category"], out["category"], out["staffing_type"])
    out["retirement_month"] = retirement_month(out["birth_date"], category) if category else None
    return out


def _audit_row(job: ImportJob, action: str, values: Mapping[Any, Any], row: int, fields: dict[str, Any],
               ) -> dict[str, Any]:
    """One audit row per person added, updated or removed; the 身份证号 is masked everywhere."""
    masked = mask_id(values["id_number"])
    if "id_number" in fields:
        fields["id_number"] = masked
    detail = {"file": job.source, "unit_id": values["unit_id"], "id_number": masked, "fields": fields}
    if row:
        detail["row"] = row
    text_ = _JSON.encode(detail)
    return dict(action=action, entity=job.entity, entity_id=masked, actor_user_id=job.actor_user_id,
                actor_account_id=None, detail=text_[:DETAIL_MAX])


def _stated(values: Mapping[Any, Any]) -> dict[str, Any]:
    """The fields of a person removed from the snapshot that are not blank, dates as text: the audit row
    keeps what the table no longer holds. (An added person's row holds its fields, and every later
    change is audited with the values before it, so its audit row names it and the file's row only.)"""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()
            if k not in ("id", "imported_at") and v is not None and v is not False and v != ""}


def _plain(value: Any) -> Any:
    """JSON of what json cannot write itself (dates). Called by the encoder."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_JSON = json.JSONEncoder(ensure_ascii=False, default=_plain)  # made once: an import encodes a row each

SPEC = KindSpec(
    kind="persons",
    label="人员",
    entity="person",
    headers=tuple(c.header for c in COLUMNS),
    required=tuple(c.header for c in COLUMNS if c.required),
    load=load,
    keys=(KEY,),
    streamed=True,
)
