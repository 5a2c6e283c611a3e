"""Statutory retirement under the 2025 reform (models/staffing/retirement.py, docs/rules.md)."""

from __future__ import annotations

from datetime import date

import pytest

from models.staffing.retirement import (
    category_of,
    delay_months,
    overdue_since,
    retirement_date,
    retirement_month,
    statutory_age,
)


def ym(text: str) -> date:
    year, month = text.split("-")
    return date(int(year), int(month), 1)


# Every worked example of the 2025 reform (人社部), as listed in docs/rules.md.
TABLE = [
    ("1964-12", "男", 0, (60, 0), "2024-12"),
    ("1965-01", "男", 1, (60, 1), "2025-02"),
    ("1965-05", "男", 2, (60, 2), "2025-07"),
    ("1965-12", "男", 3, (60, 3), "2026-03"),
    ("1970-06", "男", 17, (61, 5), "2031-11"),
    ("1976-08", "男", 35, (62, 11), "2039-07"),
    ("1976-09", "男", 36, (63, 0), "2039-09"),
    ("1969-12", "女干部", 0, (55, 0), "2024-12"),
    ("1970-01", "女干部", 1, (55, 1), "2025-02"),
    ("1971-04", "女干部", 4, (55, 4), "2026-08"),
    ("1981-09", "女干部", 36, (58, 0), "2039-09"),
    ("1974-12", "女工人", 0, (50, 0), "2024-12"),
    ("1975-01", "女工人", 1, (50, 1), "2025-02"),
    ("1975-02", "女工人", 1, (50, 1), "2025-03"),
    ("1980-06", "女工人", 33, (52, 9), "2033-03"),
    ("1984-11", "女工人", 60, (55, 0), "2039-11"),
]


@pytest.mark.parametrize(("born", "category", "delay", "age", "month"), TABLE)
def test_domain_facts_table(born, category, delay, age, month):
    birth = ym(born)
    assert delay_months(birth, category) == delay
    assert statutory_age(birth, category) == age
    assert retirement_month(birth, category) == ym(month)


@pytest.mark.parametrize(("born", "category", "month"), [
    # first cohort: born in December of the year before → no delay; January → one month
    ("1964-12", "男", "2024-12"), ("1965-01", "男", "2025-02"),
    ("1969-12", "女干部", "2024-12"), ("1970-01", "女干部", "2025-02"),
    ("1974-12", "女工人", "2024-12"), ("1975-01", "女工人", "2025-02"),
    ("1950-06", "男", "2010-06"), ("1960-03", "女干部", "2015-03"),  # long before the reform
    # steps: men every 4 birth months, 女工人 every 2
    ("1965-04", "男", "2025-05"), ("1965-05", "男", "2025-07"),
    ("1975-02", "女工人", "2025-03"), ("1975-03", "女工人", "2025-05"),
    ("1970-04", "女干部", "2025-05"), ("1970-05", "女干部", "2025-07"),
    # caps: 63 / 58 / 55 from 1976-09 / 1981-09 / 1984-11, and for everyone born later
    ("1976-08", "男", "2039-07"), ("1976-09", "男", "2039-09"), ("1976-10", "男", "2039-10"),
    ("1990-01", "男", "2053-01"),
    ("1981-08", "女干部", "2039-07"), ("1981-09", "女干部", "2039-09"), ("1995-05", "女干部", "2053-05"),
    ("1984-10", "女工人", "2039-09"), ("1984-11", "女工人", "2039-11"), ("1984-12", "女工人", "2039-12"),
    ("2000-07", "女工人", "2055-07"),
    # month arithmetic: the age's months roll the year
    ("1970-12", "女干部", "2026-03"), ("1965-09", "男", "2025-12"), ("1966-11", "男", "2027-05"),
])
def test_boundaries(born, category, month):
    assert retirement_month(ym(born), category) == ym(month)


def test_caps_in_years():
    assert statutory_age(date(1976, 8, 1), "男") == (62, 11)
    assert statutory_age(date(1976, 9, 1), "男") == statutory_age(date(1999, 1, 1), "男") == (63, 0)
    assert statutory_age(date(1981, 8, 1), "女干部") == (57, 11)
    assert statutory_age(date(1981, 9, 1), "女干部") == statutory_age(date(1999, 1, 1), "女干部") == (58, 0)
    assert statutory_age(date(1984, 10, 1), "女工人") == (54, 11)
    assert statutory_age(date(1984, 11, 1), "女工人") == statutory_age(date(1999, 1, 1), "女工人") == (55, 0)


def test_day_of_birth_does_not_change_the_month_and_daily_dates_clamp():
    assert retirement_month(date(1965, 1, 1), "男") == retirement_month(date(1965, 1, 31), "男") == date(2025, 2, 1)
    assert retirement_date(date(1965, 1, 31), "男") == date(2025, 2, 28)
    assert retirement_date(date(1971, 4, 15), "女干部") == date(2026, 8, 15)
    assert retirement_date(date(1960, 2, 29), "女干部") == date(2015, 2, 28)
    assert retirement_date(date(1960, 2, 29), "其他") is None


def test_override_categories():
    assert statutory_age(date(1971, 4, 1), "女处级60") == (60, 0)  # local rule: 60 flat, no delay
    assert retirement_month(date(1971, 4, 1), "女处级60") == date(2031, 4, 1)
    assert retirement_month(date(1984, 12, 20), "女处级60") == date(2044, 12, 1)
    assert statutory_age(date(1971, 4, 1), "其他") is None
    assert retirement_month(date(1971, 4, 1), "其他") is None
    assert overdue_since(date(1950, 1, 1), "其他") is None
    with pytest.raises(ValueError, match="未知退休类别"):
        retirement_month(date(1971, 4, 1), "女")


def test_category_of():
    assert category_of("男", "") == "男"
    assert category_of("男", "工人") == "男"
    assert category_of("女", "干部") == "女干部"
    assert category_of("女", "") is None  # neither 人员类别 nor 身份: 数据不全, not a silent 女干部
    assert category_of("女", "工人") == "女工人"
    assert category_of("女", "工勤") == "女工人"
    assert category_of("女", "干部", "女处级60") == "女处级60"  # the override wins
    assert category_of("女", "工人", "女干部") == "女干部"
    assert category_of("男", "", "其他") == "其他"
    with pytest.raises(ValueError, match="未知退休类别"):
        category_of("女", "", "女工")
    with pytest.raises(ValueError, match="无法确定退休类别"):
        category_of("", "")


def test_person_kind_decides_before_identity():
    # issue 12.5: 人员类别 公务员/参公/事业管理/专业技术 puts a woman in the 原55 group whatever 身份 says
    for kind in ("公务员", "参公", "事业管理", "专业技术"):
        assert category_of("女", "工人", kind=kind, staffing_type="工勤编制") == "女干部"
    assert category_of("女", "干部", kind="工勤") == "女工人"
    assert category_of("女", "", staffing_type="工勤编制") == "女工人"
    assert category_of("女", "", staffing_type="行政编制") is None
    # a civil servant born 1972-06 with 身份 工人: 女干部, 8 months of delay → 2028-02 (女工人 would be 2022-06)
    cat = category_of("女", "工人", kind="公务员")
    assert retirement_month(date(1972, 6, 15), cat) == date(2028, 2, 1)


def test_overdue_since_and_flexible_delay():
    # the month after the retirement month
    assert overdue_since(date(1964, 12, 5), "男") == date(2025, 1, 1)
    assert overdue_since(date(1965, 9, 5), "男") == date(2026, 1, 1)  # retires 2025-12: rolls the year
    assert overdue_since(date(1971, 4, 5), "女干部") == date(2026, 9, 1)
    # 弹性延迟退休至: the day after it, when that is later
    assert overdue_since(date(1965, 12, 5), "男", date(2028, 6, 30)) == date(2028, 7, 1)
    assert overdue_since(date(1965, 12, 5), "男", date(2028, 12, 31)) == date(2029, 1, 1)
    assert overdue_since(date(1965, 12, 5), "男", date(2026, 3, 15)) == date(2026, 4, 1)  # earlier: month rule
    assert overdue_since(date(1965, 12, 5), "男", None) == date(2026, 4, 1)
