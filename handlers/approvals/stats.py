"""办结率 [本月|上月|本年]: the office's same-day completion rate and working days per business type."""

from __future__ import annotations

from datetime import date, timedelta

from bot.context import Context, Incoming, Reply
from bot.router import Command, Router
from handlers.rectification.common import usage
from models.accounts.roles import Right
from models.approvals.stats import PeriodStats, period_stats
from models.rectification.rules import local_today

PERIODS = ("本月", "上月", "本年", "今年", "本周")


def period_of(word: str, today: date) -> tuple[date, date, str]:
    if word in ("本年", "今年"):
        return date(today.year, 1, 1), today, f"{today.year}年"
    if word == "上月":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end, f"{end.year}年{end.month}月"
    if word == "本周":
        return today - timedelta(days=today.weekday()), today, "本周"
    return today.replace(day=1), today, f"{today.year}年{today.month}月"


def stats_data(stats: PeriodStats, label: str) -> dict[str, object]:
    rate = stats.same_day_rate
    return {
        "label": label, "submitted": stats.submitted, "same_day": stats.same_day, "pending_today": stats.pending_today,
        "rate": f"{rate * 100:.1f}%" if rate is not None else "—",
        "by_type": [{"type": t.type, "submitted": t.submitted, "done": t.done,
                     "avg": f"{t.avg_days:.1f}" if t.avg_days is not None else "—",
                     "p90": t.p90_days if t.p90_days is not None else "—"} for t in stats.by_type],
        "by_status": stats.by_status,
        "slowest": [{"number": n, "type": ty, "title": ti, "days": d} for n, ty, ti, d in stats.slowest],
    }


async def completion_rate(msg: Incoming, ctx: Context) -> Reply:
    word = ctx.args.strip() or "本月"
    if word not in PERIODS:
        return usage(f"看不懂“{word}”。", "办结率 [本月|上月|本年]", "办结率 上月")
    today = local_today(ctx.services.clock())
    start, end, label = period_of(word, today)
    cal = await ctx.services.calendar()
    open_after = cal.add_workdays(today, -1) if end >= today else None  # the last working day before today
    async with ctx.db.read() as session:
        stats = await period_stats(session, start, end, open_after=open_after)
    return Reply("approval_stats.md.j2", stats_data(stats, label))


def register(router: Router) -> None:
    router.add(Command("办结率", completion_rate, Right.OFFICE_VIEW, "当日办结率、各类事项平均和90%用时",
                       "办结率 [本月|上月|本年]", aliases=("审批统计",), topic="审批"))
