"""Import kind `groups` (走访分组). Key: 组名. 组长/组员 are DingTalk userIds of existing accounts;
回避单位 are unit references (name, short name or 统一社会信用代码)."""

from __future__ import annotations

from typing import Any

from bot.db import Database
from bot.importing.base import Column, ErrorLog, ImportJob, KindSpec, first_seen, parse_columns
from bot.importing.fields import parse_list, text
from bot.importing.reader import Row
from models.staffing.unit_match import UnitIndex
from models.visits.queries import active_user_ids, groups_by_name, units_by_id
from models.visits.tables import VisitGroup

COLUMNS = (
    Column("组名", "name", text(50), required=True),
    Column("组长", "leader_user_id", text(64), required=True),
    Column("组员", "members", parse_list, default=None),
    Column("不可走访月份", "months", parse_list, default=None),
    Column("回避单位", "avoid", parse_list, default=None),
)


async def load(db: Database, rows: list[Row], job: ImportJob) -> None:
    errors = job.errors
    parsed = [(row, parse_columns(row, COLUMNS, errors)) for row in rows]
    seen: dict[Any, int] = {}
    async with db.write() as session:
        users = await active_user_ids(session)
        units = UnitIndex(list((await units_by_id(session)).values()))
        for row, values in parsed:
            if values.get("name"):
                first_seen(errors, seen, values["name"], row.number, "组名")
            _check(row, values, users, units, errors)
        errors.raise_if_any()
        existing = await groups_by_name(session)
        for row, values in parsed:
            job.upsert(session, existing.get(values["name"]), VisitGroup, values, key=values["name"], row=row.number)


def _check(row: Row, values: dict[str, Any], users: set[str], units: UnitIndex, errors: ErrorLog) -> None:
    leader = values.get("leader_user_id")
    if leader and leader not in users:
        errors.add(row.number, "组长", f"没有钉钉用户ID为“{leader}”的账号")
    members = values.pop("members", None) or []
    for m in members:
        if m not in users:
            errors.add(row.number, "组员", f"没有钉钉用户ID为“{m}”的账号")
    values["member_user_ids"] = ",".join(m for m in dict.fromkeys(members) if m != leader)
    months = values.pop("months", None) or []
    bad = [m for m in months if not (m.isdigit() and 1 <= int(m) <= 12)]
    if bad:
        errors.add(row.number, "不可走访月份", f"“{'、'.join(bad)}”不是 1-12 的月份")
    values["blocked_months"] = ",".join(str(int(m)) for m in months if m.isdigit() and 1 <= int(m) <= 12)
    avoid_ids = []
    for ref in values.pop("avoid", None) or []:
        try:
            avoid_ids.append(str(units.id_of(ref)))
        except LookupError as exc:
            errors.add(row.number, "回避单位", str(exc))
    values["avoid_unit_ids"] = ",".join(sorted(set(avoid_ids), key=int))


SPEC = KindSpec(
    kind="groups", label="走访分组", entity="visit_group",
    headers=tuple(c.header for c in COLUMNS), required=tuple(c.header for c in COLUMNS if c.required), load=load,
    keys=(("组名",),),
)
