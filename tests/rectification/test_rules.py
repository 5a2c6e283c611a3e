"""Lights, the reminder ladder and quiet hours on hand-checked dates across 国庆 and 春节 (调休 included)
and across the end of the official calendar data."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from models.calendar.workdays import WorkCalendar
from models.rectification.rules import (
    RED,
    YELLOW,
    RectificationRules,
    days_phrase,
    deadline_from,
    deadline_text,
    deliver_at,
    due_day,
    is_quiet,
    ladder_slots,
    last_overdue_deadline,
    light,
    normalize_number,
    workdays_left,
)
from models.rectification.tables import CLOSED, IN_PROGRESS, IN_REVIEW, TODO
from tests.conftest import beijing

CAL = WorkCalendar()
RULES = RectificationRules()


def rungs(deadline: date, first: date, last: date) -> dict[str, list[str]]:
    """The ladder rungs a daily scan would enqueue on each working day from `first` to `last`."""
    out: dict[str, list[str]] = {}
    day = first
    while day <= last:
        if CAL.is_workday(day):
            keys = [s.key for s in ladder_slots(workdays_left(CAL, deadline, day), TODO, RULES)]
            if keys:
                out[day.isoformat()] = keys
        day += timedelta(days=1)
    return out


def test_ladder_across_national_day_2026():
    # 中秋 9/25-9/27 and 国庆 10/1-10/7 2026 are off; 9/20 (Sun) and 10/10 (Sat) are make-up working days.
    assert rungs(date(2026, 10, 9), date(2026, 9, 20), date(2026, 10, 20)) == {
        "2026-09-24": ["before5"],
        "2026-09-29": ["before3"],
        "2026-10-08": ["before1"],
        "2026-10-09": ["due"],
        "2026-10-10": ["overdue1", "escalate_leader"],  # the make-up Saturday counts
        "2026-10-12": ["escalate_leader"],
        "2026-10-13": ["escalate_leader"],
        "2026-10-14": ["overdue4", "escalate_leader"],
        "2026-10-15": ["escalate_leader", "escalate_office"],
        "2026-10-16": ["escalate_leader", "escalate_office"],
        "2026-10-19": ["overdue7", "escalate_leader", "escalate_office"],
        "2026-10-20": ["escalate_leader", "escalate_office"],
    }


def test_ladder_across_spring_festival_2026():
    # 春节 2026: 2/15-2/23 off; 2/14 (Sat) and 2/28 (Sat) are make-up working days.
    got = rungs(date(2026, 2, 27), date(2026, 2, 9), date(2026, 3, 2))
    assert got == {
        "2026-02-13": ["before5"],
        "2026-02-24": ["before3"],
        "2026-02-26": ["before1"],
        "2026-02-27": ["due"],
        "2026-02-28": ["overdue1", "escalate_leader"],
        "2026-03-02": ["escalate_leader"],
    }
    assert deadline_from(CAL, date(2026, 2, 13), 5) == date(2026, 2, 27)


def test_lights_across_the_holiday():
    deadline = date(2026, 10, 9)
    assert light(CAL, deadline, date(2026, 9, 23), TODO, RULES) == "green"  # 6 working days left
    assert light(CAL, deadline, date(2026, 9, 24), TODO, RULES) == YELLOW  # 5 left (中秋 9/25 is off)
    assert light(CAL, deadline, date(2026, 10, 5), TODO, RULES) == YELLOW  # holiday: still 2 left
    assert light(CAL, deadline, date(2026, 10, 9), TODO, RULES) == YELLOW  # due today
    assert light(CAL, deadline, date(2026, 10, 10), TODO, RULES) == RED
    assert light(CAL, deadline, date(2026, 10, 10), CLOSED, RULES) == "closed"


def test_deadline_past_the_calendar_data_is_provisional():
    deadline = deadline_from(CAL, date(2026, 12, 24), 6)
    assert deadline.year == 2027 and CAL.provisional_between(date(2026, 12, 24), deadline)
    assert rungs(deadline, date(2026, 12, 24), deadline) == {
        "2026-12-25": ["before5"], "2026-12-29": ["before3"], "2026-12-31": ["before1"], deadline.isoformat(): ["due"],
    }


def test_no_reminders_while_the_office_reviews_or_after_closing():
    assert ladder_slots(-4, IN_REVIEW, RULES) == []
    assert ladder_slots(0, CLOSED, RULES) == []
    assert [s.key for s in ladder_slots(-1, IN_PROGRESS, RULES)] == ["overdue1", "escalate_leader"]


@pytest.mark.parametrize("moment, expected", [
    ("2026-11-24 10:00", "2026-11-24 10:00"),  # working hours: now
    ("2026-11-24 07:00", "2026-11-24 09:00"),  # before 08:30: today at 09:00
    ("2026-11-24 18:30", "2026-11-25 09:00"),  # evening: next working day
    ("2026-09-30 19:00", "2026-10-08 09:00"),  # the eve of 国庆: after the holiday
    ("2026-10-10 08:00", "2026-10-10 09:00"),  # a make-up Saturday is a working day
    ("2026-10-11 12:00", "2026-10-12 09:00"),  # an ordinary Sunday is quiet all day
])
def test_quiet_hours_hold_messages_until_the_next_working_morning(moment, expected):
    now = beijing(moment)
    assert deliver_at(CAL, now, RULES) == beijing(expected)
    assert is_quiet(CAL, now, RULES) == (moment != expected)


def test_problem_numbers_as_people_type_them():
    assert normalize_number("ZG-2026-0001", 2026) == "ZG-2026-0001"
    assert normalize_number("zg-2026-12", 2026) == "ZG-2026-0012"
    assert normalize_number("7", 2026) == "ZG-2026-0007"
    assert normalize_number("教育局", 2026) is None


# --- issue 12.8: a deadline on a rest day is due on the next working day (民法典 §203) ---------------

def test_rest_day_deadline_moves_to_the_next_working_day():
    deadline = date(2026, 10, 3)  # 国庆 Saturday; 10-08 is the first working day after the holiday
    assert due_day(CAL, deadline) == date(2026, 10, 8)
    assert deadline_text(CAL, deadline) == "2026-10-03（节假日顺延至 2026-10-08）"
    assert deadline_text(CAL, date(2026, 10, 9)) == "2026-10-09"
    # 09-30: one working day left (10-08), not "今天到期"; 10-08: due today, yellow, no escalation.
    # Hand-checked: 中秋 09-25..27 and 国庆 10-01..07 are off, so (09-23, 10-08] = 24, 28, 29, 30, 8.
    assert workdays_left(CAL, deadline, date(2026, 9, 30)) == 1
    assert days_phrase(workdays_left(CAL, deadline, date(2026, 9, 30))) == "不含今天还剩 1 个工作日"
    assert workdays_left(CAL, deadline, date(2026, 10, 8)) == 0
    assert light(CAL, deadline, date(2026, 10, 8), TODO, RULES) == YELLOW
    assert [s.key for s in ladder_slots(workdays_left(CAL, deadline, date(2026, 10, 8)), TODO, RULES)] == ["due"]
    assert rungs(deadline, date(2026, 9, 20), date(2026, 10, 12)) == {
        "2026-09-23": ["before5"], "2026-09-28": ["before3"], "2026-09-30": ["before1"], "2026-10-08": ["due"],
        "2026-10-09": ["overdue1", "escalate_leader"], "2026-10-10": ["escalate_leader"],
        "2026-10-12": ["escalate_leader"],
    }


def test_the_weekend_after_a_friday_deadline_is_overdue_not_due_today():
    friday = date(2026, 11, 27)
    assert workdays_left(CAL, friday, date(2026, 11, 27)) == 0
    for day in (date(2026, 11, 28), date(2026, 11, 29)):  # Saturday, Sunday
        assert workdays_left(CAL, friday, day) == -1
        assert light(CAL, friday, day, TODO, RULES) == RED
        assert days_phrase(workdays_left(CAL, friday, day)) == "已逾期 1 个工作日"
    assert workdays_left(CAL, friday, date(2026, 11, 30)) == -1  # Monday: the first overdue working day
    assert workdays_left(CAL, friday, date(2026, 12, 1)) == -2


def test_last_overdue_deadline_matches_the_light():
    for today in (date(2026, 10, 8), date(2026, 10, 9), date(2026, 11, 28), date(2026, 11, 30)):
        cutoff = last_overdue_deadline(CAL, today)
        for deadline in (today - timedelta(days=k) for k in range(12)):
            assert (deadline <= cutoff) == (light(CAL, deadline, today, TODO, RULES) == RED), (today, deadline)


def test_working_days_given_on_a_rest_day_count_from_the_next_working_day():
    """Issue 10.9: "15个工作日" sent on Sunday 2026-11-29 answered "还剩 16 个工作日"."""
    sunday = date(2026, 11, 29)
    deadline = deadline_from(CAL, sunday, 15)
    assert deadline == date(2026, 12, 18)  # Monday 11-30 is day 1, Friday 12-18 day 15
    assert workdays_left(CAL, deadline, sunday) == 15
    assert deadline_from(CAL, date(2026, 11, 30), 15) == date(2026, 12, 21)  # a Monday start is not counted
    assert deadline_from(CAL, date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert deadline_from(CAL, date(2026, 10, 3), 1) == date(2026, 10, 8)  # 国庆: 10-08 is day 1
