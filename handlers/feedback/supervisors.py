"""监督员 around the reports: 反馈统计, 监督员会议 (announce, remind, confirm attendance)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.context import Button, Context, Incoming, Reply
from bot.dialogue import Flow
from bot.importing.fields import explain, parse_date, parse_id, years_after
from bot.notify import notify_users
from bot.render import md_escape
from bot.router import Command, Router
from handlers.feedback.filing import note
from handlers.rectification.common import usage
from models.accounts.roles import Right, Role
from models.accounts.tables import accounts_with_role
from models.base import LOCAL_TZ
from models.feedback.ops import create_meeting, reply_meeting
from models.feedback.queries import meeting_to_answer, stats, upcoming_meetings
from models.rectification.rules import local_today


def _quarter(today: date) -> tuple[date, date]:
    start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    end = date(start.year + (start.month == 10), (start.month + 2) % 12 + 1, 1)
    return start, end


async def feedback_stats(msg: Incoming, ctx: Context) -> Reply:
    word = ctx.args.strip() or "本年"
    today = local_today(ctx.services.clock())
    if word in ("本季", "本季度"):
        start, end = _quarter(today)
    elif word in ("本年", "今年"):
        start, end = date(today.year, 1, 1), date(today.year + 1, 1, 1)
    else:
        return usage(f"看不懂“{word}”。", "反馈统计 [本季|本年]")
    begin = datetime.combine(start, datetime.min.time(), LOCAL_TZ).astimezone(UTC)
    finish = datetime.combine(end, datetime.min.time(), LOCAL_TZ).astimezone(UTC)
    async with ctx.db.read() as session:
        s = await stats(session, begin, finish)
    avg = f"{s.avg_days:.1f}" if s.avg_days is not None else "—"
    return Reply("feedback_stats.md.j2", {"period": word, "s": s, "avg": avg})


async def announce_meeting(msg: Incoming, ctx: Context) -> Reply:
    """监督员会议 2026-12-21 地点: tell every supervisor now and remind them the working day before."""
    if not ctx.args:
        return await _list_meetings(ctx)
    when, _, place = ctx.raw_args.strip().partition(" ")
    try:
        day = parse_date(when, high=years_after(local_today(ctx.services.clock()), 1))
    except ValueError as e:
        return usage(explain("日期", when, e), "监督员会议 日期 地点", "监督员会议 2026-12-21 县委大楼三楼会议室")
    today = local_today(ctx.services.clock())
    if day <= today:
        return note("meeting_past", "invalid")
    cal = await ctx.services.calendar()
    if not cal.is_workday(day):  # a rest day by the working-day calendar: ask before telling everyone
        return await ctx.services.dialogues.start(msg, ctx, MEETING_FLOW.name,
                                                  {"day": day.isoformat(), "place": place.strip()[:200]})
    return await _announce(ctx, day, place.strip()[:200])


WEEKDAYS = "一二三四五六日"


def _rest_day_warning(data: dict[str, Any]) -> str:
    day = date.fromisoformat(data["day"])
    return md_escape(f"{day} 是星期{WEEKDAYS[day.weekday()]}，按工作日历是休息日。"
                     f"确定在这一天开会吗？地点：{data['place'] or '（未写）'}")


async def _finish_meeting(msg: Incoming, ctx: Context, data: dict[str, Any]) -> Reply:
    return await _announce(ctx, date.fromisoformat(data["day"]), data["place"])


MEETING_FLOW = Flow(name="meeting.rest_day", title="监督员会议日期", steps=(), summary=_rest_day_warning,
                    finish=_finish_meeting)


async def _announce(ctx: Context, day: date, place: str) -> Reply:
    today = local_today(ctx.services.clock())
    cal = await ctx.services.calendar()
    eve = cal.add_workdays(day, -1)
    async with ctx.db.write() as session:
        meeting = await create_meeting(session, day=day, place=place, actor=ctx.account)
        users = [a.user_id for a in await accounts_with_role(session, Role.SUPERVISOR)]
        data = {"id": meeting.id, "day": day.isoformat(), "place": meeting.place}
        buttons = [Button("参加", f"参加会议 {meeting.id}"), Button("请假", f"请假 {meeting.id}")]
        await notify_users(session, ctx.services.renderer, kind="meeting.notice", key=str(meeting.id), user_ids=users,
                           template="meeting.md.j2", data=data | {"reminder": False}, buttons=buttons)
        if eve > today:
            at = datetime.combine(eve, ctx.services.rules.send_at, LOCAL_TZ).astimezone(UTC)
            await notify_users(session, ctx.services.renderer, kind="meeting.reminder", key=str(meeting.id),
                               user_ids=users, template="meeting.md.j2", data=data | {"reminder": True},
                               buttons=buttons, due_at=at, expires_at=at + timedelta(days=1))
    return note("announced", count=len(users), day=day, place=meeting.place, id=meeting.id, eve=eve)


async def _list_meetings(ctx: Context) -> Reply:
    today = local_today(ctx.services.clock())
    async with ctx.db.read() as session:
        meetings = await upcoming_meetings(session, today=today)
    if not meetings:
        return usage("目前没有安排监督员会议。", "监督员会议 日期 地点", "监督员会议 2026-12-21 县委大楼三楼会议室")
    rows = [{"id": m.id, "day": m.day, "place": m.place, "yes": yes, "no": no} for m, yes, no in meetings]
    return Reply("meetings_list.md.j2", {"meetings": rows})


async def attend(msg: Incoming, ctx: Context) -> Reply:
    return await _reply(ctx, True)


async def decline(msg: Incoming, ctx: Context) -> Reply:
    return await _reply(ctx, False)


async def _reply(ctx: Context, attending: bool) -> Reply:
    assert ctx.account is not None
    today = local_today(ctx.services.clock())
    meeting_id = None
    if ctx.args.strip():
        try:
            meeting_id = parse_id(ctx.args.split()[0], "会议号")
        except ValueError as e:
            word = "参加会议" if attending else "请假"
            return usage(f"{e}。", f"{word} [会议号]", f"{word} 1")
    async with ctx.db.write() as session:
        meeting = await meeting_to_answer(session, meeting_id=meeting_id, today=today)
        if meeting is None:
            return note("no_meeting", "not_found")
        await reply_meeting(session, meeting=meeting, account=ctx.account, attending=attending)
    return note("meeting_reply", day=meeting.day, attending=attending)


def register(router: Router) -> None:
    add = router.add
    add(Command("反馈统计", feedback_stats, Right.OFFICE_VIEW, "听取、受理、办结、转整改和平均答复用时",
                "反馈统计 [本季|本年]", topic="监督员"))
    add(Command("监督员会议", announce_meeting, Right.OFFICE_HANDLE, "通知监督员开会并统计回复",
                "监督员会议 [日期 地点]", aliases=("监督员开会", "会议通知"), topic="监督员"))
    add(Command("参加会议", attend, Right.FEEDBACK_FILE, "确认参加监督员会议", "参加会议 [会议号]", topic="监督员"))
    add(Command("请假", decline, Right.FEEDBACK_FILE, "监督员会议请假", "请假 [会议号]", topic="监督员"))
