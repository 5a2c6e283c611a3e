"""监管异常名录: entries and exits (audited), and the rules that put units on it (complaints in a
quarter, the same kind of problem again within a year, 不达标). The table is models/staffing/watchlist.py."""

from __future__ import annotations

import json
from datetime import date, timedelta

from sqlalchemy.orm import aliased
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import audit
from models.evaluation.rules import EvaluationRules
from models.evaluation.tables import Complaint
from models.staffing.persons import Warning
from models.staffing.watchlist import SOURCE_LABELS, WatchEntry


async def open_entry(session: AsyncSession, unit_id: int) -> WatchEntry | None:
    return (await session.exec(select(WatchEntry).where(
        WatchEntry.unit_id == unit_id, col(WatchEntry.until).is_(None)))).first()


async def enter(session: AsyncSession, unit_id: int, source: str, reason: str, today: date,
                actor_user_id: str = "", actor_account_id: int | None = None) -> WatchEntry | None:
    """Put a unit on the list; None when it is on it already."""
    if await open_entry(session, unit_id) is not None:
        return None
    entry = WatchEntry(unit_id=unit_id, source=source, reason=reason[:500], since=today, added_by=actor_user_id)
    session.add(entry)
    audit(session, "watchlist.enter", "unit", unit_id, json.dumps(
        {"原因": SOURCE_LABELS.get(source, source), "说明": reason}, ensure_ascii=False),
        actor_account_id=actor_account_id, actor_user_id=actor_user_id)
    return entry


async def leave(session: AsyncSession, unit_id: int, reason: str, today: date, actor_user_id: str,
                actor_account_id: int | None = None) -> WatchEntry | None:
    entry = await open_entry(session, unit_id)
    if entry is None:
        return None
    entry.until, entry.exit_reason, entry.removed_by = today, reason[:500], actor_user_id
    session.add(entry)
    audit(session, "watchlist.leave", "unit", unit_id, json.dumps({"说明": reason}, ensure_ascii=False),
          actor_account_id=actor_account_id, actor_user_id=actor_user_id)
    return entry


def quarter_start(day: date) -> date:
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


async def complaint_counts(session: AsyncSession, today: date) -> dict[int, int]:
    """Complaints per unit in the quarter of `today` (up to today)."""
    rows = await session.exec(select(col(Complaint.unit_id), func.count()).where(
        col(Complaint.day) >= quarter_start(today), col(Complaint.day) <= today).group_by(col(Complaint.unit_id)))
    return dict(rows.all())


async def recurring(session: AsyncSession, today: date, days: int) -> dict[int, str]:
    """Units where a warning rule that had cleared came back within `days`, seen in the last `days`."""
    earlier, later = aliased(Warning), aliased(Warning)
    rows = await session.exec(
        select(later.unit_id, later.rule, earlier.resolved_on, later.first_seen)  # type: ignore[call-overload]
        .join(earlier, (earlier.unit_id == later.unit_id) & (earlier.rule == later.rule) & (earlier.id != later.id))
        .where(col(earlier.resolved_on).is_not(None), col(later.first_seen) >= col(earlier.resolved_on),
               col(later.first_seen) > today - timedelta(days=days)))
    found: dict[int, str] = {}
    for unit_id, rule, resolved_on, first_seen in rows.all():
        if (first_seen - resolved_on).days <= days:
            found.setdefault(unit_id, rule)
    return found


async def scan(session: AsyncSession, today: date, rules: EvaluationRules) -> list[WatchEntry]:
    """Apply the complaint and recurrence rules; the new entries (to be told to their units)."""
    added: list[WatchEntry] = []
    for unit_id, n in sorted((await complaint_counts(session, today)).items()):
        if n >= rules.complaints_per_quarter:
            reason = f"本季度收到投诉 {n} 件（达到 {rules.complaints_per_quarter} 件）"
            entry = await enter(session, unit_id, "complaints", reason, today)
            if entry:
                added.append(entry)
    for unit_id, rule in sorted((await recurring(session, today, rules.recurrence_days)).items()):
        entry = await enter(session, unit_id, "recurrence", f"“{rule}”预警消除后一年内再次出现", today)
        if entry:
            added.append(entry)
    return added
