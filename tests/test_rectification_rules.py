"""Lights, the reminder ladder and quiet hours on hand-checked dates across 国庆 and 春节 (调休 included)
and across the end of the official calendar data."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from models.problems import CLOSED, IN_PROGRESS, IN_REVIEW, TODO
from models.rectification import (
    RED,
    YELLOW,
    RectificationRules,
    deadline_from,
    deliver_at,
    is_quiet,
    ladder_slots,
    light,
    normalize_number,
    workdays_left,
)
from models.workdays import WorkCalendar
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
