"""Import kind `approvals` (审批事项). Key: 事项编号.

The export of the provincial platform. The rows are validated here by `validate_rows`, which
`POST /api/approvals` (handlers.approvals.ingest_api) uses too, on JSON items turned into rows by `json_rows`;
both then write through handlers.approvals.sync (apply_items, or ItemSync chunk by chunk for a file), as
DingTalk OA events do, so the three sources share the upsert, the history events (提交 / 环节 / 状态) and
the unit notifications (one per unit per import).

Rules of this kind, beyond the common ones (docs/import-formats.md):
- 提交时间 and 办结时间 are Beijing time: a date, a date and time, or ISO 8601 (an offset such
  as `+08:00` or `Z` is honoured).
- 当前经办人 is a 钉钉用户ID or a 姓名 of an account: either gives the handler's userId (催办 goes
  to them) and name. A name no account has, or several accounts share, is kept as the name only.
- 状态 blank means 办理中. 办结时间 is required when 状态 is 已办结 (it drives 办结率 and the
  working days an item took; using the import time instead would distort both), may not be
  earlier than 提交时间, and is not stored for the other statuses.
- Absent optional columns count as blank: the file describes each item whole.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import Database
from bot.importing.base import DETAIL_MAX, Column, DuplicateLog, ErrorLog, ImportJob, KindSpec, batched
from bot.importing.fields import as_text, choice, parse_datetime, text
from bot.importing.reader import Row, clean_cell
from bot.render import Renderer
from handlers.approvals.sync import ItemSync
from models.accounts.tables import Account
from models.approvals.ops import ItemData, audit_sync
from models.approvals.queries import active_accounts
from models.approvals.tables import DONE, IN_PROGRESS, STATUSES, TYPES
from models.base import LOCAL_TZ
from models.calendar.workdays import load_calendar
from models.staffing.unit_match import UnitIndex, UnitRef, unit_refs

NUMBER, UNIT, TYPE, TITLE, SUBMITTED = "事项编号", "所属单位", "业务类型", "事项名称", "提交时间"
STAGE, HANDLER, STATUS, COMPLETED = "当前环节", "当前经办人", "状态", "办结时间"
MIN_YEAR, MAX_YEAR = 1900, 2100  # the years models.calendar.workdays handles
CHUNK_ROWS = 5000  # items validated, then written, at a time: what a file import holds at once

# The JSON keys of POST /api/approvals and the column each stands for.
API_KEYS = {"number": NUMBER, "unit": UNIT, "type": TYPE, "title": TITLE, "submitted_at": SUBMITTED,
            "stage": STAGE, "handler": HANDLER, "status": STATUS, "completed_at": COMPLETED}
_KEY_OF = {header: key for key, header in API_KEYS.items()}


def parse_moment(value: Any) -> datetime:
    """A date with an optional time (Beijing time unless an offset is given), as an aware datetime."""
    return _moment_text(value) if isinstance(value, str) else _moment(value)


@lru_cache(maxsize=8192)
def _moment_text(value: str) -> datetime:
    """A file repeats the same few hundred dates: each text is parsed once (errors are not cached)."""
    return _moment(value)


def _moment(value: Any) -> datetime:
    try:
        moment = parse_datetime(value)
    except ValueError as exc:
        raw = unicodedata.normalize("NFKC", as_text(value)).strip()
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise exc from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=LOCAL_TZ)
    try:
        year = moment.astimezone(LOCAL_TZ).year
    except OverflowError:  # 0001-01-01 with a positive offset is before datetime.min in UTC
        year = 0
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"年份应在{MIN_YEAR}至{MAX_YEAR}之间")
    return moment


COLUMNS = (
    Column(NUMBER, "number", text(64), required=True),
    Column(UNIT, "unit_ref", text(100), required=True),
    Column(TYPE, "type", choice(TYPES, "业务类型"), default=None, required=True),
    Column(TITLE, "title", text(200)),
    Column(SUBMITTED, "submitted_at", parse_moment, default=None, required=True),
    Column(STAGE, "stage", text(40), required=True),
    Column(HANDLER, "handler", text(50)),
    Column(STATUS, "status", choice(STATUSES, "状态"), default=IN_PROGRESS),
    Column(COMPLETED, "completed_at", parse_moment, default=None),
)


class ItemErrors(ErrorLog):
    """The same checks, reported for POST /api/approvals: `第N项 key: 原因` with the JSON keys, one per key."""

    noun = "项"

    def __init__(self) -> None:
        super().__init__()
        self._reported: set[tuple[int, str]] = set()

    def add(self, row: int, column: str, reason: str) -> None:
        key = _KEY_OF.get(column, column)
        if (row, key) in self._reported:
            return
        self._reported.add((row, key))
        self._items.append((row, len(self._items), f"第{row}项 {key}: {reason}" if key else f"第{row}项: {reason}"))


def json_rows(items: list[Any], errors: ItemErrors) -> list[Row]:
    """The items of a JSON request as rows (number = position from 1); unknown keys and non-text values are errors."""
    rows = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict):
            errors.add(number, "", "应为对象，如 {\"number\": \"…\", \"unit\": \"…\", …}")
            continue
        cells: dict[str, Any] = {}
        for key, value in item.items():
            header = API_KEYS.get(key)
            if header is None:
                errors.add(number, str(key), f"未知字段（可用：{'、'.join(API_KEYS)}）")
            elif isinstance(value, dict | list | bool):
                errors.add(number, header, "应为文本")
            else:
                cells[header] = clean_cell(value)
        rows.append(Row(number=number, cells=cells))
    return rows


@dataclass
class Lookup:
    """What a row refers to: units (name, short name, USCC) and accounts (userId or name)."""

    units: UnitIndex[UnitRef]
    by_user: dict[str, Account]
    by_name: dict[str, list[Account]]

    @classmethod
    async def load(cls, session: AsyncSession) -> Lookup:
        accounts = await active_accounts(session)
        by_name: dict[str, list[Account]] = {}
        for account in accounts:
            by_name.setdefault(account.name, []).append(account)
        return cls(UnitIndex(await unit_refs(session)), {a.user_id: a for a in accounts},
                   by_name)

    def handler(self, ref: str) -> tuple[str, str]:
        """(userId, name) of a 当前经办人 given as userId or name; an unknown or ambiguous name keeps the name only."""
        if not ref:
            return "", ""
        account = self.by_user.get(ref)
        if account is None and len(self.by_name.get(ref, [])) == 1:
            account = self.by_name[ref][0]
        return (account.user_id, account.name) if account else ("", ref)


def validate_rows(rows: Iterable[Row], lookup: Lookup, errors: ErrorLog, *,
                  repeated: Callable[[int, int], None] | None = None) -> Iterator[ItemData]:
    """Every row checked as it comes (problems go to `errors`); yields the items of the rows that passed.

    With `repeated` (a file: DuplicateLog), a row repeating an earlier row's 事项编号 goes to
    `repeated(row, earlier row)` and is not checked further, as bot.importing.drop_duplicates does for
    the other kinds; without it (the HTTP API) the row is checked whole and the repeat is one more error."""
    noun = getattr(errors, "noun", "行")
    seen: dict[str, int] = {}  # 事项编号 → first row: a few tens of MB for a million rows
    for row in rows:
        if repeated is not None and (earlier := _repeats(seen, as_text(row.get(NUMBER)), row.number)):
            repeated(row.number, earlier)
            continue
        v = {c.attr: errors.cell(row, c.header, c.parse, required=c.required, default=c.default) for c in COLUMNS}
        repeat = repeated is None and (earlier := _repeats(seen, v["number"], row.number)) is not None
        if repeat:
            errors.add(row.number, NUMBER, f"与第{earlier}{noun}重复")
        unit_id = None
        if v["unit_ref"]:
            try:
                unit_id = lookup.units.id_of(v["unit_ref"])
            except LookupError as exc:
                errors.add(row.number, UNIT, str(exc))
        status, submitted, completed = v["status"] or IN_PROGRESS, v["submitted_at"], v["completed_at"]
        if status == DONE and completed is None and as_text(row.get(COMPLETED)) == "":
            errors.add(row.number, COMPLETED, "状态为已办结时必须填写")
        if status == DONE and completed is not None and submitted is not None and completed < submitted:
            errors.add(row.number, COMPLETED, f"早于{SUBMITTED}")
        if repeat or unit_id is None or not v["number"] or v["type"] is None or submitted is None or not v["stage"]:
            continue
        user_id, name = lookup.handler(v["handler"])
        yield ItemData(
            number=v["number"], unit_id=unit_id, type=v["type"], title=v["title"], submitted_at=submitted,
            stage=v["stage"], status=status, handler_user_id=user_id, handler_name=name,
            completed_at=completed if status == DONE else None,
        )


def _repeats(seen: dict[str, int], number: str, row: int) -> int | None:
    """The earlier row of this 事项编号, or None when it is new (then it is remembered) or blank."""
    if not number:
        return None
    earlier = seen.setdefault(number, row)
    return None if earlier == row else earlier


async def load(db: Database, rows: Iterable[Row], job: ImportJob) -> None:
    """Validate the rows as they are read and apply them CHUNK_ROWS items at a time, in one transaction:
    the file is never held whole. After the first error nothing more is written, the rest is still
    checked (every problem is reported), and ImportRejected rolls back what was written."""
    cal = await load_calendar(db)
    errors = job.errors
    repeats = DuplicateLog(errors)
    async with db.write() as session:
        sync = ItemSync(session, source="file", cal=cal, renderer=Renderer())
        items = validate_rows(rows, await Lookup.load(session), errors,
                              repeated=lambda row, earlier: repeats.add(row, NUMBER, earlier))
        for chunk in batched(items, CHUNK_ROWS):
            if not errors:
                await sync.add(chunk)
        repeats.close()
        errors.raise_if_any()
        result = await sync.finish()
        job.result.added, job.result.updated, job.result.unchanged = result.added, result.updated, result.unchanged
        sync_audit(session, "import.approvals", job.source, job.actor_user_id, result)


def sync_audit(session: AsyncSession, action: str, source: str, actor_user_id: str, result: Any) -> None:
    """One audit row for a batch of approval items (the items' own history is in ApprovalEvent)."""
    counts = {"added": result.added, "updated": result.updated, "unchanged": result.unchanged,
              "notified": result.notified, "numbers": result.numbers[:1000]}
    audit_sync(session, action=action, source=source, actor_user_id=actor_user_id, counts=counts,
               detail_max=DETAIL_MAX)


SPEC = KindSpec(
    kind="approvals",
    label="审批事项",
    entity="approval",
    headers=tuple(c.header for c in COLUMNS),
    required=tuple(c.header for c in COLUMNS if c.required),
    load=load,
    keys=((NUMBER,),),
    streamed=True,
)
