"""异常名录: the list (office), 异常名录 加入|移出 单位 理由 (office staff), each change told to the unit."""

from __future__ import annotations

import re

from bot.context import Context, Incoming, Reply
from bot.notify import bound
from bot.router import Command, Router
from handlers.evaluation.common import note, one_unit, today_of, usage
from models.accounts.roles import Right
from models.evaluation import watch
from models.evaluation.announce import tell_watch
from models.rectification.rules import deliver_at
from models.staffing.queries import unit_by_id
from models.staffing.watchlist import BY_OFFICE, SOURCE_LABELS, open_entries

WATCH_USAGE = "异常名录 [加入|移出 单位 理由]"


async def watchlist(msg: Incoming, ctx: Context) -> Reply:
    if not ctx.args:
        async with ctx.db.read() as session:
            entries = await open_entries(session)
            units = {e.unit_id: await unit_by_id(session, unit_id=e.unit_id) for e in entries}
        rows = [{"unit": u.name if (u := units[e.unit_id]) else "", "since": e.since.isoformat(),
                 "source": SOURCE_LABELS.get(e.source, e.source), "reason": e.reason} for e in entries]
        return Reply("watchlist.md.j2", {"rows": rows})
    m = re.match(r"^(加入|移出)\s+(\S+)\s+(.+)$", ctx.raw_args.strip(), re.S)
    if not m:
        return usage("请写上加入或移出、单位和理由（理由会告知单位并留痕）。", WATCH_USAGE,
                     "异常名录 加入 教育局 群众投诉集中")
    if not ctx.can(Right.OFFICE_HANDLE):
        return note("watch_denied", "denied")
    action, unit_text, reason = m.group(1), m.group(2), m.group(3).strip()
    assert ctx.account is not None
    now = ctx.services.clock()
    async with ctx.db.write() as session:
        unit = await one_unit(session, unit_text)
        if isinstance(unit, Reply):
            return unit
        assert unit.id is not None
        if action == "加入":
            entry = await watch.enter(session, unit.id, BY_OFFICE, reason, today_of(ctx.services),
                                      ctx.account.user_id, ctx.account.id)
        else:
            entry = await watch.leave(session, unit.id, reason, today_of(ctx.services), ctx.account.user_id,
                                      ctx.account.id)
        if entry is None:
            return note("watch_unchanged", "invalid", unit=unit.name, entered=action == "加入")
        cal = await ctx.services.calendar()
        await tell_watch(session, entry=entry, entered=action == "加入", due=deliver_at(cal, now, ctx.services.rules),
                         notify=bound(ctx.services.renderer))
    return note("watch_changed", unit=unit.name, entered=action == "加入")


def register(router: Router) -> None:
    router.add(Command("异常名录", watchlist, Right.OFFICE_VIEW, "监管异常名录；编办业务员可加入或移出（须写理由）",
                       WATCH_USAGE, aliases=("监管异常名录",), topic="监管评价"))
