"""The 预警 scan: findings (set-based SQL, models/warnings/rules.py) reconciled with the open warnings.

A finding without an open warning opens one; a higher level raises it; an open warning without a
finding is resolved. Only new, worse and resolved warnings are pushed, once, as one message per
unit (to its contacts) and one summary for the office staff. Runs nightly at 02:30 and, for just
the units in the file, after every `import persons` / `import units`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlalchemy import select as core_select
from sqlmodel import select

from bot.context import Services
from bot.notify import notify_users
from models import Warning
from models.accounts.roles import Role
from models.accounts.tables import people_by_unit
from models.base import table_of
from models.bulk import bulk_insert
from models.rectification.rules import deliver_at, local_today
from models.warnings.rules import Finding, U, WarningSettings, find_all
from models.warnings.wording import describe

log = logging.getLogger(__name__)
W = Warning.__table__.c  # type: ignore[attr-defined]


@dataclass
class ScanSummary:
    findings: int = 0
    new: int = 0
    worse: int = 0
    resolved: int = 0
    messages: int = 0
    changes: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))


async def scan_warnings(services: Services, now: datetime | None = None, unit_ids: list[int] | None = None,
                        settings: WarningSettings | None = None) -> ScanSummary:
    now = now or services.clock()
    today = local_today(now)
    settings = settings or WarningSettings(**vars(services.config.warnings))
    summary = ScanSummary()
    async with services.db.write() as session:
        findings = await find_all(session, today, settings, unit_ids)
        summary.findings = len(findings)
        query = core_select(W.id, W.number, W.unit_id, W.rule, W.subject, W.level, W.evidence, W.notified_level).where(
            W.resolved_on.is_(None))  # plain rows, not entities: they can be tens of thousands
        if unit_ids is not None:
            query = query.where(W.unit_id.in_(unit_ids))
        rows = (await (await session.connection()).execute(query)).all()
        open_ = {(w.unit_id, w.rule, w.subject): w for w in rows}
        await _apply(session, findings, open_, today, summary, unit_ids)
        summary.messages = await _notify(session, services, summary, now)
    log.info("warning scan: %s findings, %s new, %s worse, %s resolved", summary.findings, summary.new,
             summary.worse, summary.resolved)
    return summary


async def _apply(session: Any, findings: list[Finding], open_: dict[tuple[int, str, str], Any], today: date,
                 summary: ScanSummary, unit_ids: list[int] | None) -> None:
    """New findings open warnings; found ones are updated when their level or evidence changed; the rest
    are resolved; then every open warning in scope (each one found today) gets `last_seen` in one statement."""
    year = today.year
    last = (await session.exec(select(func.max(W.number)).where(W.number.like(f"YJ-{year}-%")))).one()
    seq = int(last.rsplit("-", 1)[1]) if last else 0
    inserts, updates = [], []
    for f in findings:
        w = open_.pop((f.unit_id, f.rule, f.subject), None)
        if w is None:
            seq += 1
            inserts.append(dict(number=f"YJ-{year}-{seq:04d}", unit_id=f.unit_id, rule=f.rule, subject=f.subject,
                                level=f.level, evidence=f.evidence, first_seen=today, last_seen=today,
                                resolved_on=None, notified_level=f.level, problem_id=None))
            summary.new += 1
            summary.changes[f.unit_id].append({"kind": "new", "text": describe(f.rule, f.subject, f.level, f.evidence),
                                               "number": f"YJ-{year}-{seq:04d}", "level": f.level})
            continue
        worse = f.level > w.notified_level
        if worse or f.level != w.level or f.evidence != w.evidence:
            updates.append(dict(w_id=w.id, level=f.level, evidence=f.evidence, last_seen=today,
                                notified_level=max(w.notified_level, f.level)))
        if worse:
            summary.worse += 1
            summary.changes[f.unit_id].append({"kind": "worse", "number": w.number, "level": f.level,
                                               "text": describe(f.rule, f.subject, f.level, f.evidence)})
    await bulk_insert(session, table_of(Warning), NEW_COLUMNS, [tuple(r[c] for c in NEW_COLUMNS) for r in inserts])
    stmt = update(Warning.__table__).where(W.id == bindparam("w_id"))  # type: ignore[attr-defined]
    for chunk in _chunks(updates):
        await session.exec(stmt, params=chunk)
    gone = list(open_.values())
    for chunk in _chunks([w.id for w in gone]):
        await session.exec(update(Warning.__table__).where(W.id.in_(chunk)).values(  # type: ignore[attr-defined]
            resolved_on=today))
    seen = update(Warning.__table__).where(W.resolved_on.is_(None), W.last_seen != today)  # type: ignore[attr-defined]
    if unit_ids is None:
        await session.exec(seen.values(last_seen=today))
    for chunk in _chunks(unit_ids or []):
        await session.exec(seen.where(W.unit_id.in_(chunk)).values(last_seen=today))
    for w in gone:
        summary.resolved += 1
        summary.changes[w.unit_id].append({"kind": "resolved", "number": w.number, "level": w.level,
                                           "text": describe(w.rule, w.subject, w.level, w.evidence)})


NEW_COLUMNS = ("number", "unit_id", "rule", "subject", "level", "evidence", "first_seen", "last_seen", "resolved_on",
               "notified_level", "problem_id")  # a first scan of a county opens tens of thousands at once


def _chunks(rows: list[Any], size: int = 1000) -> list[list[Any]]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]


async def _notify(session: Any, services: Services, summary: ScanSummary, now: datetime) -> int:
    if not summary.changes:
        return 0
    people = await people_by_unit(session)
    query = select(U.id, U.name, U.short_name)
    if len(summary.changes) <= 1000:  # a bind parameter per id; past that, reading every unit is cheaper
        query = query.where(U.id.in_(list(summary.changes)))
    units = {u.id: u for u in (await session.exec(query)).all()}
    key = now.isoformat()
    due = deliver_at(await services.calendar(), now, services.rules)  # the nightly scan waits for 09:00
    sent = 0
    for unit_id, changes in summary.changes.items():
        users = list(dict.fromkeys(
            u for role in (Role.UNIT_CONTACT, Role.UNIT_LEADER) for u in people.get(role, {}).get(unit_id, [])))
        if users:
            sent += await notify_users(session, services.renderer, kind="warning.unit", key=f"{unit_id}:{key}",
                                       user_ids=users, template="warnings_changed.md.j2",
                                       data={"unit": units[unit_id].name, "changes": changes[:20],
                                             "more": max(0, len(changes) - 20)}, due_at=due)
    office = people.get(Role.OFFICE_STAFF, {}).get(0, [])
    rows = [{"unit": units[u].short_name or units[u].name, "new": sum(c["kind"] == "new" for c in cs),
             "worse": sum(c["kind"] == "worse" for c in cs), "resolved": sum(c["kind"] == "resolved" for c in cs),
             "severe": sum(c["level"] == 3 and c["kind"] != "resolved" for c in cs)}
            for u, cs in summary.changes.items()]
    rows.sort(key=lambda r: (-r["severe"], -r["new"]))
    sent += await notify_users(session, services.renderer, kind="warning.office", key=key, user_ids=office,
                               template="warnings_office.md.j2",
                               data={"rows": rows[:15], "more": max(0, len(rows) - 15), "new": summary.new,
                                     "worse": summary.worse, "resolved": summary.resolved}, due_at=due)
    return sent


def register(scheduler: Any, app: Any) -> None:
    scheduler.add_job(scan_warnings, "cron", hour=2, minute=30, args=[app.services], id="warnings",
                      replace_existing=True)
