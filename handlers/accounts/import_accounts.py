"""Import kind `accounts` (账号). Key: 钉钉用户ID."""

from __future__ import annotations

from typing import Any

from bot.db import Database
from bot.importing.base import Column, ErrorLog, ImportJob, KindSpec, first_seen, parse_columns
from bot.importing.fields import parse_mobile, parse_role_list, text
from bot.importing.reader import Row
from models.accounts.queries import all_accounts
from models.accounts.roles import ROLE_LABELS, UNIT_ROLES, Role
from models.accounts.tables import Account
from models.staffing.queries import all_units
from models.staffing.unit_match import UnitIndex

UNIT_HEADER = "所属单位"
COLUMNS = (
    Column("钉钉用户ID", "user_id", text(64), required=True),
    Column("姓名", "name", text(50), required=True),
    Column("角色", "roles", parse_role_list, default=None, required=True),
    Column(UNIT_HEADER, "unit_ref", text(100)),
    Column("手机号", "mobile", parse_mobile),
)

Parsed = list[tuple[Row, dict[str, Any]]]


async def load(db: Database, rows: list[Row], job: ImportJob) -> None:
    """Validate every row and resolve units, then upsert all accounts in one transaction."""
    errors = job.errors
    parsed: Parsed = [(row, parse_columns(row, COLUMNS, errors)) for row in rows]
    seen: dict[Any, int] = {}
    for row, values in parsed:
        if values.get("user_id"):
            first_seen(errors, seen, values["user_id"], row.number, "钉钉用户ID")
    async with db.write() as session:
        units = UnitIndex(await all_units(session))
        for row, values in parsed:
            _resolve_unit(row, values, units, errors)
        errors.raise_if_any()
        existing = {a.user_id: a for a in await all_accounts(session)}
        for row, values in parsed:
            values["roles"] = ",".join(r.value for r in values["roles"])
            key = values["user_id"]
            job.upsert(session, existing.get(key), Account, values, key=key, row=row.number)


def _resolve_unit(row: Row, values: dict[str, Any], units: UnitIndex, errors: ErrorLog) -> None:
    """Replace `unit_ref` by `unit_id`; a unit role needs a unit."""
    ref = values.pop("unit_ref", None)
    roles: list[Role] = values.get("roles") or []
    if not ref:
        needing = [ROLE_LABELS[r] for r in roles if r in UNIT_ROLES]
        if needing:
            errors.add(row.number, UNIT_HEADER, f"{'、'.join(needing)}必须填写所属单位")
        elif ref is not None:
            values["unit_id"] = None
        return
    try:
        values["unit_id"] = units.id_of(ref)
    except LookupError as exc:
        errors.add(row.number, UNIT_HEADER, str(exc))


SPEC = KindSpec(
    kind="accounts",
    label="账号",
    entity="account",
    headers=tuple(c.header for c in COLUMNS),
    required=tuple(c.header for c in COLUMNS if c.required),
    load=load,
    keys=(("钉钉用户ID",),),
)
