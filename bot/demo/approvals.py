"""The demo's approval items: every status, several units, stuck and overdue items, a same-day
completion and stage timelines, dated back from the demo's day so that `进度 SP-2026-0012`,
`我的审批`, `审批 超时|今日`, `纪实 SP-2026-0003` and `办结率` answer as the README says, whenever the
demo is started.

Each item is a list of steps (working days before the demo day, time, stage, status); the steps of
all items are applied in time order through the one upsert every source uses (handlers.approvals.sync),
so the timelines are the ones a real platform feed would have produced.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import delete
from sqlmodel import col, select

from bot.db import Database
from bot.render import Renderer
from handlers.approvals.sync import apply_items
from models import OutboxMessage, Unit
from models.approvals.ops import ItemData
from models.base import LOCAL_TZ
from models.calendar.workdays import WorkCalendar, load_calendar

HANDLERS = {"bb_ywy1": "李明", "bb_ywy2": "何琳", "bb_ywy3": "马骏"}
Step = tuple[int, str, str, str]  # working days before the demo day, "HH:MM", stage, status

# number, unit (short name), type, title, handler, steps
ITEMS: list[tuple[str, str, str, str, str, list[Step]]] = [
    ("SP-2026-0001", "组织部", "机构修改", "内设机构名称调整", "bb_ywy2",
     [(40, "09:10", "受理", "办理中"), (40, "15:30", "办结", "已办结")]),
    ("SP-2026-0002", "团县委", "人员上编", "新录用人员上编", "bb_ywy3",
     [(35, "10:00", "受理", "办理中"), (34, "09:00", "审核", "办理中"), (33, "16:00", "办结", "已办结")]),
    ("SP-2026-0003", "卫健局", "设立机构", "设立县疾控中心应急处置科", "bb_ywy2",
     [(8, "09:00", "动议", "办理中"), (5, "10:00", "衔接", "办理中")]),
    ("SP-2026-0004", "县府办", "用编计划", "2026年下半年用编计划", "bb_ywy1",
     [(30, "09:00", "动议", "办理中"), (25, "09:00", "论证及审议决定", "办理中"), (10, "17:00", "办结", "已办结")]),
    ("SP-2026-0005", "教育局", "人员异动", "教师跨校交流人员异动", "bb_ywy1",
     [(20, "09:30", "受理", "办理中"), (19, "10:00", "审核", "办理中"), (18, "11:00", "办结", "已办结")]),
    ("SP-2026-0006", "卫健局", "人员上编", "县医院新进人员上编", "bb_ywy1",
     [(4, "09:00", "受理", "办理中"), (4, "14:00", "审核", "办理中")]),
    ("SP-2026-0007", "财政局", "人员异动", "借调人员回原单位", "bb_ywy3",
     [(14, "09:00", "受理", "办理中"), (12, "10:00", "审核", "办理中"), (9, "15:00", "审批", "办理中")]),
    ("SP-2026-0008", "财政局", "用编核准", "公开招聘用编", "bb_ywy2",
     [(9, "09:00", "受理", "办理中"), (8, "16:30", "办结", "已办结")]),
    ("SP-2026-0009", "公安局", "人员下编", "退休人员下编", "bb_ywy3",
     [(6, "09:00", "受理", "办理中"), (5, "10:00", "审核", "办理中"), (4, "11:00", "审核", "已退回")]),
    ("SP-2026-0010", "城关镇", "机构修改", "挂牌机构名称变更", "bb_ywy2",
     [(5, "09:00", "受理", "办理中"), (3, "10:00", "受理", "已撤回")]),
    ("SP-2026-0011", "教育局", "人员上编", "新招聘教师上编", "bb_ywy1",
     [(12, "09:00", "受理", "办理中"), (10, "09:00", "审核", "办理中"), (7, "16:00", "办结", "已办结")]),
    ("SP-2026-0012", "教育局", "用编核准", "2026年教师招聘用编", "bb_ywy1",
     [(2, "09:30", "受理", "办理中"), (1, "10:00", "审核", "办理中")]),
    ("SP-2026-0013", "卫健局", "人员上编", "乡镇卫生院人员上编", "bb_ywy2",
     [(3, "10:00", "受理", "办理中"), (2, "09:00", "审核", "办理中"), (0, "08:50", "办结", "已办结")]),
    ("SP-2026-0014", "教育局", "人员修改", "教师职务信息更正", "bb_ywy3",
     [(0, "08:40", "受理", "办理中"), (0, "09:20", "办结", "已办结")]),
    ("SP-2026-0015", "融媒体中心", "用编核准", "记者岗位用编", "bb_ywy2", [(0, "09:05", "受理", "办理中")]),
]


def demo_day(cal: WorkCalendar, today: date) -> date:
    """The working day the demo's items are dated back from: today, or the last working day."""
    return today if cal.is_workday(today) else cal.add_workdays(today, -1)


async def load_demo_approvals(db: Database, today: date) -> str:
    cal = await load_calendar(db)
    day = demo_day(cal, today)

    def moment(back: int, hhmm: str) -> datetime:
        on = day if back == 0 else cal.add_workdays(day, -back)
        return datetime.combine(on, time.fromisoformat(hhmm), LOCAL_TZ)

    async with db.write() as session:
        units = {u.short_name: u.id for u in (await session.exec(select(Unit))).all() if u.id is not None}
        steps = []
        for number, unit, type_, title, handler, timeline in ITEMS:
            submitted = moment(*timeline[0][:2])
            for back, hhmm, stage, status in timeline:
                at = moment(back, hhmm)
                steps.append((at, ItemData(
                    number=number, unit_id=units[unit], type=type_, title=title, submitted_at=submitted,
                    stage=stage, status=status, handler_user_id=handler, handler_name=HANDLERS[handler],
                    completed_at=at if status == "已办结" else None, changed_at=at)))
        for at, data in sorted(steps, key=lambda s: s[0]):
            await apply_items(session, [data], source="file", cal=cal, renderer=Renderer(), now=at)
        # The history happened before the demo started: its unit notices count as delivered long ago.
        await session.exec(delete(OutboxMessage).where(col(OutboxMessage.kind).like("approval.%")))
    return f"审批事项：{len(ITEMS)} 件（{day.isoformat()} 及之前的办理记录）"
