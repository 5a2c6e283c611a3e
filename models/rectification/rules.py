"""整改 rules that belong to the data: deadlines in working days, lights, the reminder ladder, quiet hours.

Defaults are those of docs/rules.md (整改); every one is a setting (`[rectification]`).
All functions are pure: they take a WorkCalendar and the current time, so tests can walk a
problem through 国庆 or 春节 without waiting.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from models.base import LOCAL_TZ
from models.calendar.workdays import WorkCalendar
from models.rectification.tables import CLOSED, IN_REVIEW

GREEN, YELLOW, RED, GREY = "green", "yellow", "red", "closed"
LIGHT_ICONS = {GREEN: "🟢", YELLOW: "🟡", RED: "🔴", GREY: "⚪"}
LIGHT_WORDS = {GREEN: "绿灯", YELLOW: "黄灯", RED: "红灯", GREY: "已销号"}


@dataclass(frozen=True)
class RectificationRules:
    yellow_days: int = 5  # 黄灯: this many working days left or fewer
    remind_before: tuple[int, ...] = (5, 3, 1)  # working days before the deadline
    overdue_every: int = 3  # overdue reminders every N working days
    escalate_office_after: int = 5  # tell the office leaders once this many working days overdue
    freeze_after: int = 10  # a unit is frozen while a problem is more than this many days overdue
    send_at: time = time(9, 0)  # reminders and held messages go out at this local time
    quiet_start: time = time(18, 0)  # nothing between quiet_start and quiet_end, nor on rest days
    quiet_end: time = time(8, 30)
    quiet_on_rest_days: bool = True  # the demo turns quiet hours off so pushes show at any hour


@dataclass(frozen=True)
class Slot:
    """One rung of the ladder: its key (part of the dedup key) and who is told."""

    key: str  # before5, before3, before1, due, overdue1, overdue4, …, escalate_leader, escalate_office
    audience: str  # "unit" (contacts), "unit_leader", "office_leader"


def due_day(cal: WorkCalendar, deadline: date) -> date:
    """The day a deadline is actually due: a deadline on a rest day moves to the next working day
    (民法典 §203: 期间的最后一日是法定休假日的，以法定休假日结束的次日为期间的最后一日)."""
    return cal.next_workday(deadline)


def deadline_text(cal: WorkCalendar, deadline: date) -> str:
    """`2026-10-03（节假日顺延至 2026-10-08）` when the deadline falls on a rest day, else the date."""
    due = due_day(cal, deadline)
    if due == deadline:
        return deadline.isoformat()
    return f"{deadline.isoformat()}（节假日顺延至 {due.isoformat()}）"


def last_overdue_deadline(cal: WorkCalendar, today: date) -> date:
    """The latest deadline that is overdue today (red): a deadline is overdue when its due day lies
    before today, i.e. when it is on or before the last working day before today. For SQL filters."""
    return cal.add_workdays(today, -1)


def workdays_left(cal: WorkCalendar, deadline: date, today: date) -> int:
    """Working days after today up to and including the due day (the deadline, moved past rest days):
    0 on the due day, negative when overdue. Past the due day, the working days since it; on a rest day
    right after it (a Saturday after a Friday deadline), -1: it is overdue, not "due today"."""
    due = due_day(cal, deadline)
    if today <= due:
        return cal.workdays_between(today, due)
    return -max(1, cal.workdays_between(due, today))


def light(cal: WorkCalendar, deadline: date, today: date, status: str, rules: RectificationRules) -> str:
    if status == CLOSED:
        return GREY
    left = workdays_left(cal, deadline, today)
    if left < 0:
        return RED
    return YELLOW if left <= rules.yellow_days else GREEN


def deadline_from(cal: WorkCalendar, assigned_on: date, workdays: int) -> date:
    """N working days after assignment, the start day not counted (民法典 §201). Counting starts on the
    next working day, which is day 1: assigned on a rest day (Sunday), Monday is day 1, so on that
    Sunday exactly N working days are left. (chinese_calendar's find_workday would make Monday the
    uncounted start, one working day more.)"""
    if workdays >= 1 and not cal.is_workday(assigned_on):
        return cal.add_workdays(cal.next_workday(assigned_on), workdays - 1)
    return cal.add_workdays(assigned_on, workdays)


def ladder_slots(left: int, status: str, rules: RectificationRules) -> list[Slot]:
    """The rungs due on a working day with `left` working days left (see docs/rules.md)."""
    if status in (CLOSED, IN_REVIEW):  # nothing to remind while the office reviews or after 销号
        return []
    if left > 0:
        return [Slot(f"before{left}", "unit")] if left in rules.remind_before else []
    if left == 0:
        return [Slot("due", "unit")]
    overdue = -left
    slots = [Slot("escalate_leader", "unit_leader")]  # once (dedup key), from the first overdue day
    if (overdue - 1) % rules.overdue_every == 0:
        slots.insert(0, Slot(f"overdue{overdue}", "unit"))
    if overdue >= rules.escalate_office_after:
        slots.append(Slot("escalate_office", "office_leader"))
    return slots


def is_quiet(cal: WorkCalendar, moment: datetime, rules: RectificationRules) -> bool:
    local = moment.astimezone(LOCAL_TZ)
    if not cal.is_workday(local.date()):
        return rules.quiet_on_rest_days
    return not rules.quiet_end <= local.time() < rules.quiet_start


def deliver_at(cal: WorkCalendar, now: datetime, rules: RectificationRules) -> datetime:
    """`now` outside quiet hours; otherwise the next working day's `send_at` (aware UTC)."""
    if not is_quiet(cal, now, rules):
        return now
    local = now.astimezone(LOCAL_TZ)
    day = local.date()
    if not (cal.is_workday(day) and local.time() < rules.quiet_end):
        day = cal.next_workday(day + timedelta(days=1))
    return datetime.combine(day, rules.send_at, LOCAL_TZ).astimezone(UTC)


def end_of_workday(day: date, rules: RectificationRules) -> datetime:
    """A reminder for `day` is too late to matter after this moment."""
    return datetime.combine(day, rules.quiet_start, LOCAL_TZ).astimezone(UTC)


def local_today(now: datetime) -> date:
    return now.astimezone(LOCAL_TZ).date()


def problem_number(year: int, seq: int) -> str:
    return f"ZG-{year}-{seq:04d}"


_NUMBER = re.compile(r"^(?:ZG)?-?(\d{4})-(\d{1,5})$|^(?:ZG-?)?(\d{1,5})$", re.IGNORECASE)


def normalize_number(text: str, this_year: int) -> str | None:
    """`ZG-2026-0001`, `zg-2026-1`, `2026-1` or just `1` (this year) → `ZG-2026-0001`."""
    m = _NUMBER.match(text.strip().upper().replace(" ", ""))
    if not m:
        return None
    if m.group(1):
        return problem_number(int(m.group(1)), int(m.group(2)))
    return problem_number(this_year, int(m.group(3)))


def number_candidates(text: str, this_year: int) -> list[str]:
    """What a typed problem number may mean: the office's own number as typed (any scheme, e.g.
    `QX-2026-001`), upper-cased, then the bot's `ZG-年-序号` reading of it."""
    raw = unicodedata.normalize("NFKC", text).strip()
    out = [raw, raw.upper(), normalize_number(raw, this_year) or ""]
    return [n for n in dict.fromkeys(out) if n]


def days_phrase(left: int) -> str:
    """What `workdays_left` counts, said exactly: the working days after today up to the due day."""
    if left > 0:
        return f"不含今天还剩 {left} 个工作日"
    if left == 0:
        return "今天到期"
    return f"已逾期 {-left} 个工作日"
