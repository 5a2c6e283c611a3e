"""Cell parsers: each returns a clean value or raises ValueError with a short Chinese reason."""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, time
from functools import lru_cache
from time import monotonic
from typing import Any

from models.accounts.roles import Role, parse_roles, split_list
from models.base import LOCAL_TZ

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_TIME = r"(?:\s*[T ]?\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
_DATE_SEP = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?" + _TIME + "$")
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})" + _TIME + "$")
_MOBILE = re.compile(r"^1\d{10}$")

TRUE_WORDS = {"是", "Y", "YES", "TRUE", "1", "√"}
FALSE_WORDS = {"否", "N", "NO", "FALSE", "0", "×"}
_BOOL_AS_WRITTEN = {**dict.fromkeys(TRUE_WORDS, True), **dict.fromkeys(FALSE_WORDS, False)}


class OutOfRange(ValueError):
    """A well-formed value outside its allowed range; the message stands on its own."""


def explain(what: str, raw: str, error: ValueError) -> str:
    """A parse error for a chat reply: `期限“明年”看不懂：…`, or the range message alone."""
    return str(error) if isinstance(error, OutOfRange) else f"{what}“{raw}”看不懂：{error}"


def as_text(value: Any) -> str:
    """Any cell as trimmed text; a whole-number float loses its `.0`."""
    if type(value) is str:  # most cells
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _nfkc(value: Any) -> str:
    return unicodedata.normalize("NFKC", as_text(value)).strip()


def text(max_len: int) -> Callable[[Any], str]:
    """A parser for free text of at most `max_len` characters."""

    def parse(value: Any) -> str:
        result = value.strip() if type(value) is str else as_text(value)
        if len(result) > max_len:
            raise ValueError(f"不能超过{max_len}个字")
        return result

    return parse


def choice(options: tuple[str, ...], what: str) -> Callable[[Any], str]:
    """A parser accepting exactly one of `options`."""

    def parse(value: Any) -> str:
        result = value.strip() if type(value) is str else as_text(value)
        if result not in options:
            raise ValueError(f"未知{what}“{result}”（可选：{'、'.join(options)}）")
        return result

    return parse


def parse_datetime(value: Any) -> datetime:
    """A date with an optional time, as an aware Beijing-time datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=LOCAL_TZ)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=LOCAL_TZ)
    raw = _nfkc(value)
    match = _DATE_SEP.match(raw) or _DATE_COMPACT.match(raw)
    if not match:
        raise ValueError(f"无法识别的日期“{raw}”（应如 2026-11-23）")
    y, m, d, hh, mm, ss = (int(g) if g else 0 for g in match.groups())
    try:
        return datetime(y, m, d, hh, mm, ss, tzinfo=LOCAL_TZ)
    except ValueError:
        raise ValueError(f"无效的日期“{raw}”") from None


def parse_date(value: Any, *, low: date | None = None, high: date | None = None) -> date:
    """A date (a time after it is allowed and dropped), optionally within [low, high]."""
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        day = parse_datetime(value).date()
    if low is not None and day < low:
        raise OutOfRange(f"日期 {day} 不应早于 {low}")
    if high is not None and day > high:
        raise OutOfRange(f"日期 {day} 不应晚于 {high}")
    return day


def years_after(day: date, years: int) -> date:
    """The same day `years` later (28 February for 29 February): an upper bound for dates from chat."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def parse_count(value: Any) -> int:
    """A whole number ≥ 0."""
    if isinstance(value, bool):
        raise ValueError("应为整数")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raw = _nfkc(value).replace(",", "")
        if re.fullmatch(r"-?\d+(\.0+)?", raw) is None:
            raise ValueError(f"应为整数，而不是“{raw}”")
        number = int(raw.split(".")[0])
    if number < 0:
        raise ValueError("不能为负数")
    return number


def parse_int(value: Any, low: int, high: int, what: str = "数字") -> int:
    """A whole number within [low, high] (chat arguments and cells alike); ValueError in Chinese.

    The range check keeps numbers from chat within what the database stores (SQLite INTEGER)."""
    raw = _nfkc(value).replace(",", "").lstrip("#").strip()
    if re.fullmatch(r"-?\d{1,30}", raw) is None:
        raise ValueError(f"{what}应为整数，而不是“{as_text(value)[:20]}”")
    number = int(raw)
    if not low <= number <= high:
        raise OutOfRange(f"{what}应在 {low} 到 {high} 之间")
    return number


def parse_year(value: Any) -> int:
    """A calendar year between 2000 and 2100."""
    return parse_int(str(as_text(value)).removesuffix("年"), 2000, 2100, "年份")


MAX_ID = 2**31 - 1  # the largest record number (ids, 会议号, 抽查编号) a chat argument may name


def parse_id(value: Any, what: str = "编号") -> int:
    """A record number such as a 会议号 or 抽查编号: 1 to MAX_ID."""
    return parse_int(value, 1, MAX_ID, what)


def parse_bool(value: Any) -> bool:
    """是 / 否."""
    if isinstance(value, bool):
        return value
    if value in _BOOL_AS_WRITTEN:  # 是 / 否 as most files write them
        return _BOOL_AS_WRITTEN[value]
    raw = _nfkc(value).upper()
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ValueError(f"应为“是”或“否”，而不是“{as_text(value)}”")


def parse_list(value: Any) -> list[str]:
    """Items separated by 、 , ， ; ；."""
    return split_list(as_text(value))


def parse_role_list(value: Any) -> list[Role]:
    """Role labels, in canonical order; at least one."""
    roles = parse_roles(as_text(value))
    if not roles:
        raise ValueError("不能为空")
    return [r for r in Role if r in roles]


def uscc_check_digit(prefix17: str) -> str:
    """The GB 32100-2015 check character of the first 17 characters."""
    total = sum(USCC_CHARS.index(ch) * w for ch, w in zip(prefix17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def make_uscc(prefix17: str) -> str:
    """`prefix17` plus its check character (for demo data and tests)."""
    prefix17 = prefix17.upper()
    if len(prefix17) != 17 or any(ch not in USCC_CHARS for ch in prefix17):
        raise ValueError(f"前17位无效：{prefix17}")
    return prefix17 + uscc_check_digit(prefix17)


def parse_uscc(value: Any) -> str:
    """An 18-character 统一社会信用代码 with a valid check character, upper-cased."""
    code = (value if type(value) is str and value.isascii() else _nfkc(value)).replace(" ", "").upper()
    if len(code) != 18:
        raise ValueError(f"应为18位，“{code}”为{len(code)}位")
    bad = [ch for ch in code if ch not in USCC_CHARS]
    if bad:
        raise ValueError(f"含非法字符“{bad[0]}”")
    if uscc_check_digit(code[:17]) != code[17]:
        raise ValueError("校验位不正确")
    return code


def parse_mobile(value: Any) -> str:
    """An 11-digit mainland mobile number (spaces, dashes and +86 are dropped)."""
    raw = re.sub(r"[\s\-]", "", _nfkc(value))
    if raw.startswith("+86"):
        raw = raw[3:]
    if not _MOBILE.match(raw):
        raise ValueError(f"应为11位手机号，而不是“{as_text(value)}”")
    return raw


# --- 居民身份证号码 (GB 11643-1999) ------------------------------------------------------------------

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"  # indexed by (Σ digit × weight) mod 11


_ZERO_WEIGHT = ord("0") * sum(ID_WEIGHTS)


def id_check_char(prefix17: str) -> str:
    """The check character (0-9 or X) of the first 17 digits (ASCII codes, less "0" once for all digits)."""
    return ID_CHECK_CHARS[(sum(map(operator.mul, prefix17.encode(), ID_WEIGHTS)) - _ZERO_WEIGHT) % 11]


def id_birth(id_number: str) -> date:
    """The birth date in positions 7-14; ValueError when it is not a real date."""
    return _birth(id_number[6:14])


@lru_cache(maxsize=65536)
def _birth(digits: str) -> date:
    """A file has far fewer birth dates than people: each is read once (errors are not cached)."""
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise ValueError(f"第7-14位出生日期“{digits}”无效") from None


def id_sex(id_number: str) -> str:
    """男 when the 17th digit is odd, else 女."""
    return "男" if int(id_number[16]) % 2 else "女"


def make_id_number(prefix17: str) -> str:
    """`prefix17` (address code, birth date, sequence) plus its check character, for tests and demo data."""
    if len(prefix17) != 17 or not prefix17.isdigit():
        raise ValueError(f"前17位应为数字：{prefix17}")
    return prefix17 + id_check_char(prefix17)


def parse_id_number(value: Any) -> str:
    """An 18-character 身份证号 with a real birth date and a valid check character; X upper-cased."""
    if isinstance(value, float):
        raise ValueError("被 Excel 存成了数字（末几位已丢失），请将该列设为文本格式后重新填写")
    code = (value if type(value) is str and value.isascii() else _nfkc(value)).replace(" ", "").upper()
    if len(code) == 15 and code.isdigit():
        raise ValueError(_fifteen_hint(code))
    if len(code) != 18:
        raise ValueError(f"应为18位，“{code}”为{len(code)}位")
    if not code[:17].isdigit() or not (code[17].isdigit() or code[17] == "X"):
        raise ValueError("应为17位数字加1位数字或X")
    born = id_birth(code)
    if born.year < 1900 or born > _today():
        raise ValueError(f"出生日期 {born.isoformat()} 不合理")
    if id_check_char(code[:17]) != code[17]:
        raise ValueError("校验位不正确")
    return code


_TODAY: list[Any] = [0.0, None]  # (valid until, Beijing date): a file checks a million birth dates


def _today() -> date:
    if monotonic() >= _TODAY[0]:
        _TODAY[:] = [monotonic() + 1.0, datetime.now(LOCAL_TZ).date()]
    return _TODAY[1]


def _fifteen_hint(code: str) -> str:
    """How to turn a 15-digit (pre-1999) 身份证号 into its 18-digit form (GB 11643-1999): insert 19
    before the 2-digit birth year and append the mod-11 check character."""
    body = code[:6] + "19" + code[6:]
    return (f"是15位旧号码，应为18位：在第6位后插入“19”补全出生年份，再按 GB 11643 计算第18位校验码，"
            f"即 {body}{id_check_char(body)}（请与本人身份证核对后填写）")


def mask_id(id_number: str) -> str:
    """`3301**********1234`: the first 4 and last 4 characters kept, the rest starred."""
    if len(id_number) <= 8:
        return id_number
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]
