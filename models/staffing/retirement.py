"""Statutory retirement under the 2025 gradual reform (docs/rules.md, 退休年龄). Pure functions.

《国务院关于渐进式延迟法定退休年龄的办法》 (from 2025-01-01): for every `step` birth months after
January of the first affected cohort year the statutory age rises by one month, up to `cap` months:

    category   base  first cohort  step  cap   (cap reached by those born)
    男           60     1965-01        4    36   1976-09 → 63 years
    女干部       55     1970-01        4    36   1981-09 → 58 years   (原55周岁: 干部, 管理/专技岗位)
    女工人       50     1975-01        2    60   1984-11 → 55 years   (原50周岁: 工人/工勤)

The retirement month is the birth month plus the statutory age; the official tables give only the
month, so every function works by month and `retirement_month` returns the first day of that month.

Local-rule assumptions (to be confirmed with 组织部/人社局; see docs/rules.md):
- 女处级60 (县处级女干部, women with 高级职称; 人社部发〔2015〕101号) is 60 years flat, no reform delay.
- 其他 (特殊工种, 延长退休 of senior experts, …) has no automatic check: the functions return None.
- 超龄未退 is flagged from the first day of the month after the retirement month, or from the day
  after 弹性延迟退休至 when that is later.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from functools import lru_cache

REFORM: dict[str, tuple[int, int, int, int]] = {  # base years, first cohort year, step, cap (months)
    "男": (60, 1965, 4, 36),
    "女干部": (55, 1970, 4, 36),
    "女工人": (50, 1975, 2, 60),
}
FLAT: dict[str, int] = {"女处级60": 60}  # years, no delay (local-rule assumption)
NO_CHECK = "其他"
CATEGORIES = (*REFORM, *FLAT, NO_CHECK)  # 男, 女干部, 女工人, 女处级60, 其他
FEMALE = ("女干部", "女工人", "女处级60")
WORKER_WORDS = ("工人", "工勤")


def delay_months(birth: date, category: str) -> int:
    """Months of reform delay for a reform category (0 for cohorts before the first one)."""
    _base, first_year, step, cap = REFORM[category]
    i = (birth.year - first_year) * 12 + (birth.month - 1)
    return 0 if i < 0 else min(cap, i // step + 1)


def statutory_age(birth: date, category: str) -> tuple[int, int] | None:
    """The statutory retirement age as (years, months); None for 其他. ValueError on an unknown category."""
    if category in REFORM:
        years, extra = divmod(REFORM[category][0] * 12 + delay_months(birth, category), 12)
        return years, extra
    if category in FLAT:
        return FLAT[category], 0
    if category == NO_CHECK:
        return None
    raise ValueError(f"未知退休类别“{category}”（可选：{'、'.join(CATEGORIES)}）")


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s month."""
    y, m = divmod(day.month - 1 + months, 12)
    return date(day.year + y, m + 1, 1)


@lru_cache(maxsize=65536)
def retirement_month(birth: date, category: str) -> date | None:
    """First day of the statutory retirement month (改革后退休时间); None for 其他. Cached: an import of
    a million persons asks for a few tens of thousands of (birth date, category) pairs."""
    age = statutory_age(birth, category)
    if age is None:
        return None
    return add_months(birth, age[0] * 12 + age[1])


def retirement_date(birth: date, category: str) -> date | None:
    """The day the statutory age is reached: birth date + age, clamped to the month end
    (born 1965-01-31, 60 years 1 month → 2025-02-28). Informative only: the tables give months."""
    month = retirement_month(birth, category)
    if month is None:
        return None
    last = calendar.monthrange(month.year, month.month)[1]
    return month.replace(day=min(birth.day, last))


CADRE_KINDS = ("公务员", "参公", "事业管理", "专业技术")  # 人员类别 of the 原55周岁 group
WORKER_KINDS = ("工勤",)  # 人员类别 of the 原50周岁 group


def category_of(sex: str, identity: str = "", override: str = "", kind: str = "",
                staffing_type: str = "") -> str | None:
    """The retirement category, in this order:
    1. the override (退休类别) when given;
    2. 男 → 男;
    3. a woman by 人员类别 (`kind`): 公务员/参公/事业管理/专业技术 → 女干部 whatever 身份 or 编制类型 say,
       工勤 → 女工人;
    4. else by 身份: 工人/工勤 → 女工人, 干部 → 女干部;
    5. else 编制类型 工勤编制 → 女工人;
    6. else None: a woman with neither 人员类别 nor 身份 cannot be placed (数据不全), never a silent 女干部.
    ValueError on an unknown override or when the sex is unusable."""
    override = (override or "").strip()
    if override:
        if override not in CATEGORIES:
            raise ValueError(f"未知退休类别“{override}”（可选：{'、'.join(CATEGORIES)}）")
        return override
    if sex == "男":
        return "男"
    if sex != "女":
        raise ValueError(f"无法确定退休类别：性别“{sex}”")
    if kind in CADRE_KINDS:
        return "女干部"
    if kind in WORKER_KINDS:
        return "女工人"
    identity = identity or ""
    if any(w in identity for w in WORKER_WORDS):
        return "女工人"
    if "干部" in identity:
        return "女干部"
    if staffing_type == "工勤编制":
        return "女工人"
    return None


def overdue_since(birth: date, category: str, flexible_until: date | None = None) -> date | None:
    """The first day on which the person counts as 超龄未退: the first day of the month after the
    retirement month, or the day after 弹性延迟退休至 when that is later. None for 其他."""
    month = retirement_month(birth, category)
    if month is None:
        return None
    since = add_months(month, 1)
    if flexible_until is not None:
        since = max(since, flexible_until + timedelta(days=1))
    return since
