"""Import kind `problems` (问题台账). Key: 问题编号.

Offices load historical and current rectification ledgers. The import never sends anything: no
交办 message, no reminder is queued here (an imported ledger may be years old, and its units have
long been told). The daily reminder scan (jobs.rectification) then treats imported open problems like any
other. New problems and updates go through the state changes of chat (models.rectification.ops:
create_problem, import_update → change_status, move_deadline), so pending reminders are cancelled
when an update moves the deadline or puts the problem under review or closes it.

Rules of this kind, beyond the common ones (docs/import-formats.md):
- 问题编号, when given, is whatever number the office's ledger uses (trimmed, full-width folded, at
  most 40 characters, no inner space — chat commands read a number up to the first space —, unique;
  `zg-2026-0001` is stored upper case as the bot's own). When blank,
  the row is first matched to an existing problem with the same 所属单位, 问题描述 and 交办日期
  (so re-importing a file whose numbers were generated changes nothing); otherwise it gets the
  next `ZG-<交办年>-NNNN`, after the highest number of that year in the database and in the
  earlier rows of the file, skipping any number used elsewhere in the file.
- A blank-number row may not share 所属单位, 问题描述 and 交办日期 with another row of the file
  (it could not be told apart on the next import).
- Exactly one of 整改期限 (a date, not before 交办日期) and 整改时限 (working days after 交办日期,
  the start day not counted, with the calendar of models.calendar.workdays) is filled in. A deadline is
  provisional (暂定) when the calendar between 交办日期 and it is not official yet. 整改时限 is
  recomputed on every import, so a file re-imported after next year's holidays were loaded may
  move a provisional deadline.
- 状态 blank: 待整改 for a new problem, unchanged for an existing one (an old ledger without
  status must not reopen a problem closed since).
- An update bumps `revision` when the deadline changes, sets `closed_at` when the status becomes
  已销号 and clears it when it leaves 已销号, and records a 导入更新 history event; a new problem
  gets a 导入 event. Both also write the import audit row of every kind.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import Database
from bot.importing.base import (
    Column,
    ErrorLog,
    ImportJob,
    ImportRejected,
    KindSpec,
    first_seen,
    is_blank,
    parse_columns,
)
from bot.importing.fields import as_text, choice, parse_date, text
from bot.importing.reader import Row
from models.calendar.workdays import WorkCalendar, load_calendar
from models.rectification.ops import create_problem, import_update
from models.rectification.queries import all_problems
from models.rectification.rules import deadline_from, problem_number
from models.rectification.tables import SOURCES, STATUSES, TODO, Problem
from models.staffing.queries import all_units
from models.staffing.unit_match import UnitIndex

NUMBER, UNIT, DESCRIPTION, ASSIGNED = "问题编号", "所属单位", "问题描述", "交办日期"
DEADLINE, WORKDAYS, STATUS = "整改期限", "整改时限", "状态"
BOTH = f"{DEADLINE}、{WORKDAYS}"
MIN_YEAR, MAX_YEAR = 1900, 2100  # the years models.calendar.workdays handles
MAX_WORKDAYS = 1000

_NUMBER = re.compile(r"ZG-(\d{4})-(\d{4})")
_WORKDAYS = re.compile(r"(\d+)(?:个)?(?:工作日)?")
LABELS = {"number": NUMBER, "unit_id": UNIT, "source": "问题来源", "description": DESCRIPTION,
          "requirement": "整改要求", "assigned_on": ASSIGNED, "deadline": DEADLINE,
          "deadline_provisional": "期限暂定", "status": STATUS}


MAX_NUMBER = 40


def parse_number(value: Any) -> str:
    """The office's own number as written (trimmed, full-width folded); `zg-2026-0001` → `ZG-2026-0001`."""
    raw = unicodedata.normalize("NFKC", as_text(value)).strip()
    match = _NUMBER.fullmatch(raw.upper().replace(" ", ""))
    if match:
        if not MIN_YEAR <= int(match.group(1)) <= MAX_YEAR or int(match.group(2)) == 0:
            raise ValueError(f"无效的问题编号“{raw}”")
        return raw.upper().replace(" ", "")
    if len(raw) > MAX_NUMBER:
        raise ValueError(f"不能超过{MAX_NUMBER}个字符（现有{len(raw)}个）")
    if any(c.isspace() for c in raw):  # chat commands read the number up to the first space
        raise ValueError(f"不能含空格（如需分隔请用“-”），而不是“{raw}”")
    return raw


def parse_day(value: Any) -> date:
    """A date in the years the working-day calendar handles."""
    day = parse_date(value)
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValueError(f"年份应在{MIN_YEAR}至{MAX_YEAR}之间")
    return day


def parse_workdays(value: Any) -> int:
    """A positive number of working days (`5`, `5个工作日`)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    raw = unicodedata.normalize("NFKC", as_text(value)).replace(" ", "")
    match = _WORKDAYS.fullmatch(raw)
    if isinstance(value, bool) or not match:
        raise ValueError(f"应为工作日数（正整数），而不是“{as_text(value)}”")
    days = int(match.group(1))
    if days < 1:
        raise ValueError("应大于0")
    if days > MAX_WORKDAYS:
        raise ValueError(f"不能超过{MAX_WORKDAYS}个工作日")
    return days


COLUMNS = (
    Column(NUMBER, "number", parse_number),
    Column(UNIT, "unit_ref", text(100), required=True),
    Column("问题来源", "source", choice(SOURCES, "问题来源"), default=None, required=True),
    Column(DESCRIPTION, "description", text(2000), required=True),
    Column("整改要求", "requirement", text(2000)),
    Column(ASSIGNED, "assigned_on", parse_day, default=None, required=True),
    Column(DEADLINE, "deadline_date", parse_day, default=None),
    Column(WORKDAYS, "workdays", parse_workdays, default=None),
    Column(STATUS, "status", choice(STATUSES, "状态"), default=None),
)

Parsed = list[tuple[Row, dict[str, Any]]]
NaturalKey = tuple[int, str, date]


async def load(db: Database, rows: list[Row], job: ImportJob) -> None:
    """Validate every row, resolve units and numbers, then write all problems in one transaction."""
    if rows and not any(row.has(DEADLINE) or row.has(WORKDAYS) for row in rows):
        raise ImportRejected([f"缺少列：{DEADLINE}（日期）或{WORKDAYS}（工作日数），须有其一"])
    cal = await load_calendar(db)
    errors = job.errors
    parsed: Parsed = []
    for row in rows:
        values = parse_columns(row, COLUMNS, errors)
        _deadline(row, values, cal, errors)
        parsed.append((row, values))
    seen: dict[Any, int] = {}
    for row, values in parsed:
        if values.get("number"):
            first_seen(errors, seen, values["number"], row.number, NUMBER)
    async with db.write() as session:
        units = UnitIndex(await all_units(session))
        for row, values in parsed:
            _resolve_unit(row, values, units, errors)
        _check_blank_numbers(parsed, errors)
        existing = await all_problems(session)
        _match_blank_numbers(parsed, existing, errors)
        errors.raise_if_any()
        _generate_numbers(parsed, existing)
        by_number = {p.number: p for p in existing}
        names = {u.id: u.name for u in units.by_uscc.values()}
        for row, values in parsed:
            await _write(session, job, by_number.get(values["number"]), values, row.number, names)


def _deadline(row: Row, values: dict[str, Any], cal: WorkCalendar, errors: ErrorLog) -> None:
    """Replace 整改期限 / 整改时限 by `deadline` and `deadline_provisional`."""
    explicit, workdays = values.pop("deadline_date", None), values.pop("workdays", None)
    has_date, has_days = not is_blank(row.get(DEADLINE)), not is_blank(row.get(WORKDAYS))
    if has_date and has_days:
        errors.add(row.number, BOTH, f"只能填写其中一项（{DEADLINE}填日期，{WORKDAYS}填工作日数）")
        return
    if not has_date and not has_days:
        errors.add(row.number, BOTH, f"必须填写其中一项（{DEADLINE}填日期，{WORKDAYS}填工作日数）")
        return
    assigned = values.get("assigned_on")
    if assigned is None or (explicit is None and workdays is None):
        return  # the bad cell is already reported
    if workdays is not None:
        deadline = deadline_from(cal, assigned, workdays)
        if deadline.year > MAX_YEAR:
            errors.add(row.number, WORKDAYS, f"期限超出日历范围（{MAX_YEAR}年）")
            return
    else:
        deadline = explicit
        if deadline < assigned:
            errors.add(row.number, DEADLINE, f"{deadline.isoformat()}早于交办日期{assigned.isoformat()}")
            return
    values["deadline"] = deadline
    values["deadline_provisional"] = cal.provisional_between(assigned, deadline)


def _resolve_unit(row: Row, values: dict[str, Any], units: UnitIndex, errors: ErrorLog) -> None:
    """Replace `unit_ref` by `unit_id` (full name, short name or USCC, as accounts do)."""
    ref = values.pop("unit_ref", None)
    if not ref:
        return  # required: already reported
    try:
        values["unit_id"] = units.id_of(ref)
    except LookupError as exc:
        errors.add(row.number, UNIT, str(exc))


def _natural_key(values: dict[str, Any]) -> NaturalKey | None:
    unit_id, description, assigned = values.get("unit_id"), values.get("description"), values.get("assigned_on")
    if unit_id is None or not description or assigned is None:
        return None
    return unit_id, description, assigned


def _check_blank_numbers(parsed: Parsed, errors: ErrorLog) -> None:
    """A blank-number row must differ from every other row in unit, description or date."""
    rows_by_key: dict[NaturalKey, list[tuple[int, bool]]] = {}
    for row, values in parsed:
        key = _natural_key(values)
        if key is not None:
            rows_by_key.setdefault(key, []).append((row.number, bool(values.get("number"))))
    for row, values in parsed:
        key = _natural_key(values)
        if key is None or not is_blank(row.get(NUMBER)):
            continue
        other = next((n for n, explicit in rows_by_key[key] if n < row.number or (explicit and n != row.number)),
                     None)
        if other is not None:
            errors.add(row.number, NUMBER,
                       f"为空，且所属单位、问题描述、交办日期与第{other}行相同，请填写问题编号以区分")


def _match_blank_numbers(parsed: Parsed, existing: list[Problem], errors: ErrorLog) -> None:
    """A blank-number row that is an existing problem (same unit, description, date) takes its number."""
    by_key: dict[NaturalKey, list[Problem]] = {}
    for problem in existing:
        by_key.setdefault((problem.unit_id, problem.description, problem.assigned_on), []).append(problem)
    claimed = {values["number"]: row.number for row, values in parsed if values.get("number")}
    for row, values in parsed:
        key = _natural_key(values)
        if key is None or not is_blank(row.get(NUMBER)):
            continue
        matches = sorted(by_key.get(key, []), key=lambda p: p.number)
        if len(matches) > 1:
            numbers = "、".join(p.number for p in matches)
            errors.add(row.number, NUMBER, f"为空，且已有多个所属单位、问题描述、交办日期相同的问题（{numbers}），"
                                           "请填写问题编号")
        elif matches:
            number = matches[0].number
            if number in claimed:
                errors.add(row.number, NUMBER, f"为空，按所属单位、问题描述、交办日期即已有问题{number}，"
                                               f"与第{claimed[number]}行重复")
            else:
                values["number"] = number
                claimed[number] = row.number


def _generate_numbers(parsed: Parsed, existing: list[Problem]) -> None:
    """Number the new blank-number rows: per 交办年, after the database and the earlier rows."""
    last: dict[int, int] = {}
    for problem in existing:
        match = re.fullmatch(r"ZG-(\d{4})-(\d+)", problem.number)
        if match:
            year, seq = int(match.group(1)), int(match.group(2))
            last[year] = max(last.get(year, 0), seq)
    taken = {p.number for p in existing} | {v["number"] for _, v in parsed if v.get("number")}
    for _, values in parsed:
        if values.get("number"):
            match = _NUMBER.fullmatch(values["number"])
            if match:
                year, seq = int(match.group(1)), int(match.group(2))
                last[year] = max(last.get(year, 0), seq)
            continue
        year = values["assigned_on"].year
        seq = last.get(year, 0) + 1
        while problem_number(year, seq) in taken:
            seq += 1
        last[year] = seq
        values["number"] = problem_number(year, seq)
        taken.add(values["number"])


async def _write(session: AsyncSession, job: ImportJob, existing: Problem | None, values: dict[str, Any],
                 row: int, unit_names: dict[int | None, str]) -> None:
    """Create or update one problem through the state changes of chat; count and audit it as every import."""
    number = values["number"]
    where = f"{job.source} 第{row}行"
    if existing is None:
        values["status"] = values.get("status") or TODO
        values["requirement"] = values.get("requirement", "")
        await create_problem(
            session, unit_id=values["unit_id"], source=values["source"], description=values["description"],
            requirement=values["requirement"], assigned_on=values["assigned_on"], deadline=values["deadline"],
            provisional=values["deadline_provisional"], actor=None, origin=f"import:{job.source}"[:60],
            number=number, status=values["status"], imported_from=where)
        job.result.added += 1
        job._audit(session, "import.add", number, row, {k: _plain(v) for k, v in values.items()})
        return
    if values.get("status") is None:
        values.pop("status", None)  # blank or absent: keep the stored status
    changes = await import_update(session, existing, values=values, where=where,
                                  shown={"labels": LABELS, "units": unit_names})
    if not changes:
        job.result.unchanged += 1
        return
    job.result.updated += 1
    detail = {k: [_plain(old), _plain(new)] for k, (old, new) in changes.items()}
    job._audit(session, "import.update", number, row, detail)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


SPEC = KindSpec(
    kind="problems",
    label="问题台账",
    entity="problem",
    headers=tuple(c.header for c in COLUMNS),
    required=tuple(c.header for c in COLUMNS if c.required),
    load=load,
    keys=((NUMBER,),),
)
