"""The one fuzzy unit matcher: full names, short names, 统一社会信用代码, suffix-less forms, typos.

Every command that takes a unit calls `match_units`. People type "教育局", "县教育", "教育句":
an exact hit on any form wins; otherwise forms containing the text (or contained in it); otherwise
the closest forms by similarity. Several results mean the caller must ask which one.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from typing import Generic, NamedTuple, TypeVar

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.staffing.units import Unit

_PREFIX = re.compile(r"^(中共)?(\S{1,6}?[县市区])(委)?")
_SUFFIXES = ("人民政府", "委员会")


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).upper()


def unit_forms(unit: Unit) -> set[str]:
    """The ways a person may write this unit's name."""
    forms = {_norm(unit.name), _norm(unit.uscc)}
    if unit.short_name:
        forms.add(_norm(unit.short_name))
    for form in list(forms):
        core = _PREFIX.sub("", form) if len(form) > 4 else form
        for suffix in _SUFFIXES:
            core = core.removesuffix(suffix)
        if len(core) >= 2:
            forms.add(core)
    return forms


def rank_units(units: list[Unit], text: str, limit: int = 5) -> list[Unit]:
    query = _norm(text)
    if not query:
        return []
    forms = {u.id: unit_forms(u) for u in units}
    exact = [u for u in units if query in forms[u.id]]
    if exact:
        return exact[:limit]
    partial = [u for u in units if any(query in f or (len(f) >= 2 and f in query) for f in forms[u.id])]
    if partial:
        return sorted(partial, key=lambda u: len(u.name))[:limit]
    scored = []
    for u in units:
        best = max(difflib.SequenceMatcher(None, query, f).ratio() for f in forms[u.id])
        if best >= 0.6:
            scored.append((best, u))
    scored.sort(key=lambda su: -su[0])
    if scored and (len(scored) == 1 or scored[0][0] - scored[1][0] >= 0.15):
        return [scored[0][1]]
    return [u for _, u in scored[:limit]]


async def match_units(session: AsyncSession, text: str, limit: int = 5) -> list[Unit]:
    units = list((await session.exec(select(Unit))).all())
    return rank_units(units, text, limit)


def _exact_key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


class UnitRef(NamedTuple):
    """What an import needs of a unit to find it: 40,000 of these cost a few MB, the ORM objects 70."""

    id: int
    name: str
    short_name: str
    uscc: str


async def unit_refs(session: AsyncSession) -> list[UnitRef]:
    rows = await session.exec(select(Unit.id, Unit.name, Unit.short_name, Unit.uscc))
    return [UnitRef(*row) for row in rows.all()]


U = TypeVar("U", Unit, UnitRef)


class UnitIndex(Generic[U]):
    """Find a unit by full name, 统一社会信用代码 or short name (exact, after NFKC)."""

    def __init__(self, units: list[U]) -> None:
        self.found: dict[str, int] = {}
        self.by_name: dict[str, U] = {_exact_key(u.name): u for u in units}
        self.by_uscc: dict[str, U] = {u.uscc.upper(): u for u in units}
        self.by_short: dict[str, list[U]] = {}
        for u in units:
            if u.short_name:
                self.by_short.setdefault(_exact_key(u.short_name), []).append(u)

    def id_of(self, ref: str) -> int:
        """The unit's id, as `find`. A file names the same units on many rows: each is looked up once."""
        found = self.found.get(ref)
        if found is None:
            unit_id = self.find(ref).id
            assert unit_id is not None
            found = self.found[ref] = unit_id
        return found

    def find(self, ref: str) -> U:
        """LookupError with the reason when no unit or several match."""
        key = _exact_key(ref)
        unit = self.by_name.get(key) or self.by_uscc.get(key.upper())
        if unit is not None:
            return unit
        matches = self.by_short.get(key, [])
        if len(matches) > 1:
            raise LookupError(f"简称“{ref}”对应多个单位，请填写全称或统一社会信用代码")
        if not matches:
            raise LookupError(f"找不到单位“{ref}”")
        return matches[0]
