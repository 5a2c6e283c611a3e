"""监管评价 jobs: the monthly 考评通报 (first working day), the annual result in January, 约谈 and
完善制度 reminders, and the 异常名录 rules. They only scan and write the outbox."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.context import Services
from bot.notify import bound, notification_rows, notify_users
from models.accounts.roles import Role
from models.accounts.tables import accounts_with_role, people_by_unit
from models.base import to_local
from models.evaluation import announce, ops, rounds, watch
from models.evaluation.rules import EvaluationRules, assign_tiers, movement
from models.evaluation.scoring import UnitResult, score_year
from models.outbox import enqueue_many
from models.rectification.rules import deliver_at, ladder_slots, local_today

log = logging.getLogger(__name__)
CATCH_UP_WORKDAYS = 5  # a 通报 missed on the first working day still goes out within this many working days


def evaluation_rules(services: Services) -> EvaluationRules:
    return services.config.evaluation.rules(services.config.warnings.stale_days)


async def _users(session: AsyncSession, role: Role) -> list[str]:
    return [a.user_id for a in await accounts_with_role(session, role)]


def unit_report(result: UnitResult, band: str) -> dict[str, Any]:
    """What one unit is told: its own score, band and losses, nothing of any other unit."""
    return {"unit": result.name, "total": result.total, "band": band, "losses": [
        {"indicator": i.indicator, "lost": i.lost, "evidence": i.evidence} for i in result.losses()]}


async def monthly_report(services: Services, now: datetime | None = None) -> int:
    """On the first working day of a month (once; up to four working days later when the bot was down):
    the ranking of the year to the end of last month to the office leaders (with movements), each unit
    its own result; in January also the annual result."""
    now = now or services.clock()
    today, cal = local_today(now), await services.calendar()
    first = cal.next_workday(today.replace(day=1))
    if not first <= today or cal.workdays_between(first, today) >= CATCH_UP_WORKDAYS:
        return 0
    last_day = today.replace(day=1) - timedelta(days=1)
    year, month = last_day.year, last_day.month
    rules = evaluation_rules(services)
    async with services.db.write() as session:
        results = await score_year(session, year, last_day, cal, rules)
        if not results or not await ops.save_snapshot(session, year, month, results):
            return 0
        before = await ops.snapshot_ranks(session, year, month - 1) if month > 1 else {}
        band = assign_tiers({r.unit_id: r.total for r in results}, rules.tier_shares)
        rows = [{"rank": r.rank, "unit": r.name, "total": r.total, "band": band[r.unit_id],
                 "move": movement(r.rank, before.get(r.unit_id)) if before else "", "watched": False}
                for r in results]
        due = deliver_at(cal, now, services.rules)
        key = f"{year}-{month:02d}"
        sent = await notify_users(session, services.renderer, kind="evaluation.report", key=key,
                                  user_ids=await _users(session, Role.OFFICE_LEADER),
                                  template="evaluation_report.md.j2",
                                  data={"year": year, "month": month, "rows": rows, "moves": bool(before),
                                        "last_n": rules.last_n}, due_at=due)
        people = await people_by_unit(session)
        out: list[dict[str, Any]] = []
        for r in results:
            users = people.get(Role.UNIT_CONTACT, {}).get(r.unit_id, []) + people.get(Role.UNIT_LEADER, {}).get(
                r.unit_id, [])
            if users:
                out += notification_rows(services.renderer, kind="evaluation.unit_report", key=key, user_ids=users,
                                         template="evaluation_unit_report.md.j2",
                                         data=unit_report(r, band[r.unit_id]) | {"year": year, "month": month},
                                         due_at=due)
        await enqueue_many(session, out)
    if month == 12:
        await announce_annual(services, year, now)
    return sent + len(out)


async def announce_annual(services: Services, year: int, now: datetime | None = None) -> dict[str, Any] | None:
    """年度定级 of `year` in its own transaction (the January run)."""
    now = now or services.clock()
    cal = await services.calendar()
    async with services.db.write() as session:
        return await announce.announce_annual(session, year=year, now=now, cal=cal, rules=evaluation_rules(services),
                                              due=deliver_at(cal, now, services.rules), notify=bound(services.renderer))


async def daily(services: Services, now: datetime | None = None) -> int:
    """The 异常名录 rules; on working days also the 约谈 and 完善制度 reminders."""
    now = now or services.clock()
    today, cal = local_today(now), await services.calendar()
    rules = evaluation_rules(services)
    due = deliver_at(cal, now, services.rules)
    sent = 0
    async with services.db.write() as session:
        for entry in await watch.scan(session, today, rules):  # any day; the outbox holds the message
            await announce.tell_watch(session, entry=entry, entered=True, due=due, notify=bound(services.renderer))
            sent += 1
        if not cal.is_workday(today):
            return sent
        office = await _users(session, Role.OFFICE_STAFF) + await _users(session, Role.OFFICE_LEADER)
        for interview, unit in await ops.open_interviews(session):
            days = cal.workdays_between(to_local(interview.created_at).date(), today)
            if days > 0 and days % rules.interview_remind_every == 0:
                sent += await notify_users(
                    session, services.renderer, kind="evaluation.interview_remind", key=f"{interview.id}:{today}",
                    user_ids=office, template="evaluation_interview_remind.md.j2",
                    data={"unit": unit.name, "year": interview.year, "reason": interview.reason, "days": days},
                    due_at=due)
        leaders = await _users(session, Role.OFFICE_LEADER)
        for item in await rounds.open_rule_items(session):
            assert item.due is not None
            left = cal.workdays_between(today, item.due)
            for slot in ladder_slots(left, "整改中", services.rules):
                users = leaders if slot.audience == "office_leader" else [item.owner_user_id]
                if slot.audience == "unit_leader" or not any(users):
                    continue
                sent += await notify_users(
                    session, services.renderer, kind="evaluation.rule_remind", key=f"{item.id}:{slot.key}",
                    user_ids=users, template="evaluation_rule_remind.md.j2",
                    data={"number": item.number, "content": item.content, "owner": item.owner_name,
                          "due": item.due.isoformat(), "left": left, "escalated": slot.audience == "office_leader"},
                    due_at=due)
    return sent


async def scored_county(services: Services) -> str:
    """One line for the demo: how many units are scored, the best and the last."""
    cal, rules = await services.calendar(), evaluation_rules(services)
    async with services.db.read() as session:
        results = await score_year(session, local_today(services.clock()).year, local_today(services.clock()), cal,
                                   rules)
    if not results:
        return "监管评价：还没有考评指标。"
    return (f"监管评价：{len(results)} 家单位已计分，第一名 {results[0].name} {results[0].total:.2f} 分，"
            f"最后一名 {results[-1].name} {results[-1].total:.2f} 分。发送 考评 查看排名。")


async def catch_up(services: Services) -> None:
    await monthly_report(services)
    await daily(services)


def register(scheduler: Any, app: Any) -> None:
    scheduler.add_job(monthly_report, "cron", hour=9, minute=15, args=[app.services], id="evaluation.report",
                      replace_existing=True)
    scheduler.add_job(daily, "cron", hour=9, minute=20, args=[app.services], id="evaluation.daily",
                      replace_existing=True)
