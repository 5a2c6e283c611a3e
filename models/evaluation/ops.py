"""监管评价 state changes, each audited in the caller's transaction: manual scores, 自评, the
published snapshots, the annual result with its consequences (约谈, 黑名单), 约谈 done."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import audit
from models.base import utcnow
from models.evaluation.rules import EvaluationRules, assign_tiers, last_n, three_years_running
from models.evaluation.scoring import UnitResult
from models.evaluation.tables import (
    Blacklist,
    Indicator,
    Interview,
    ManualScore,
    ScoreSnapshot,
    SelfAssessment,
    SelfAttachment,
)
from models.staffing.units import Unit


async def find_indicator(session: AsyncSession, name: str) -> Indicator | None:
    """By exact name, else the one indicator whose name contains `name`."""
    exact = (await session.exec(select(Indicator).where(Indicator.name == name))).first()
    if exact is not None:
        return exact
    found = (await session.exec(select(Indicator).where(col(Indicator.name).contains(name)))).all()
    return found[0] if len(found) == 1 else None


async def set_manual_score(session: AsyncSession, *, year: int, unit_id: int, indicator: Indicator, score: float,
                           basis: str, actor_user_id: str, actor_account_id: int | None = None,
                           source: str = "chat") -> ManualScore:
    row = (await session.exec(select(ManualScore).where(
        ManualScore.year == year, ManualScore.unit_id == unit_id, ManualScore.indicator_id == indicator.id))).first()
    before = None if row is None else row.score
    if row is None:
        row = ManualScore(year=year, unit_id=unit_id, indicator_id=indicator.id, score=score,  # type: ignore[arg-type]
                          basis=basis, given_by=actor_user_id)
    else:
        row.score, row.basis, row.given_by, row.updated_at = score, basis, actor_user_id, utcnow()
    session.add(row)
    audit(session, "evaluation.score", "unit", unit_id, json.dumps(
        {"年度": year, "指标": indicator.name, "原分数": before, "新分数": score, "依据": basis, "来源": source},
        ensure_ascii=False), actor_account_id=actor_account_id, actor_user_id=actor_user_id)
    return row


async def add_self_assessment(session: AsyncSession, *, year: int, unit_id: int, score: float, text: str,
                              account_id: int | None, actor_user_id: str) -> SelfAssessment:
    row = SelfAssessment(year=year, unit_id=unit_id, score=score, text=text, account_id=account_id)
    session.add(row)
    await session.flush()
    audit(session, "evaluation.self", "unit", unit_id, json.dumps({"年度": year, "自评分": score, "说明": text},
                                                                  ensure_ascii=False),
          actor_account_id=account_id, actor_user_id=actor_user_id)
    return row


async def recent_self_assessment(session: AsyncSession, account_id: int, since: datetime) -> SelfAssessment | None:
    return (await session.exec(select(SelfAssessment).where(
        SelfAssessment.account_id == account_id, col(SelfAssessment.created_at) >= since).order_by(
        col(SelfAssessment.id).desc()))).first()


async def add_self_attachments(session: AsyncSession, assessment: SelfAssessment,
                               files: list[tuple[str, str, str, int, str]]) -> int:
    """`files`: (kind, file name, stored path, size, sha256); returns the assessment's file count."""
    for kind, name, path, size, sha in files:
        session.add(SelfAttachment(assessment_id=assessment.id, kind=kind, file_name=name, path=path,  # type: ignore[arg-type]
                                   size=size, sha256=sha))
    await session.flush()
    return (await session.exec(select(func.count()).select_from(SelfAttachment).where(
        SelfAttachment.assessment_id == assessment.id))).one()


async def snapshot_ranks(session: AsyncSession, year: int, month: int) -> dict[int, int]:
    rows = await session.exec(select(ScoreSnapshot.unit_id, ScoreSnapshot.rank).where(
        ScoreSnapshot.year == year, ScoreSnapshot.month == month))
    return dict(rows.all())


async def save_snapshot(session: AsyncSession, year: int, month: int, results: list[UnitResult],
                        tiers: dict[int, str] | None = None, bottom: set[int] | None = None) -> bool:
    """Keep a published ranking; False when that month (or year, month 0) was already kept."""
    if await snapshot_ranks(session, year, month):
        return False
    for r in results:
        session.add(ScoreSnapshot(year=year, month=month, unit_id=r.unit_id, total=r.total, rank=r.rank,
                                  tier=(tiers or {}).get(r.unit_id, ""), last_five=r.unit_id in (bottom or set())))
    audit(session, "evaluation.publish", "evaluation", f"{year}-{month:02d}", json.dumps(
        {"单位数": len(results)}, ensure_ascii=False))
    return True


@dataclass
class AnnualOutcome:
    year: int
    tiers: dict[int, str] = field(default_factory=dict)
    bottom: set[int] = field(default_factory=set)
    interviews: list[int] = field(default_factory=list)  # unit ids given a 约谈 task
    blacklisted: list[int] = field(default_factory=list)
    failing: list[int] = field(default_factory=list)  # 不达标
    new: bool = True


async def finalize_year(session: AsyncSession, year: int, results: list[UnitResult],
                        rules: EvaluationRules, now: datetime | None = None) -> AnnualOutcome:
    """年度定级: tiers, last five, 约谈 tasks and the three-year 黑名单. Idempotent per year."""
    existing = (await session.exec(select(ScoreSnapshot).where(ScoreSnapshot.year == year,
                                                                ScoreSnapshot.month == 0))).all()
    if existing:
        out = AnnualOutcome(year, {s.unit_id: s.tier for s in existing}, {s.unit_id for s in existing if s.last_five},
                            new=False)
        out.failing = [u for u, t in out.tiers.items() if t == "不达标"]
        return out
    totals = {r.unit_id: r.total for r in results}
    out = AnnualOutcome(year, assign_tiers(totals, rules.tier_shares), last_n(totals, rules.last_n))
    out.failing = sorted(u for u, t in out.tiers.items() if t == "不达标")
    await save_snapshot(session, year, 0, results, out.tiers, out.bottom)
    history = (await session.exec(select(ScoreSnapshot.unit_id, ScoreSnapshot.year).where(
        ScoreSnapshot.month == 0, col(ScoreSnapshot.year) >= year - 2, col(ScoreSnapshot.year) < year,
        (col(ScoreSnapshot.last_five)) | (ScoreSnapshot.tier == "不达标")))).all()
    bad_years: dict[int, set[int]] = {}
    for unit_id, y in history:
        bad_years.setdefault(unit_id, set()).add(y)
    for unit_id in sorted(out.bottom | set(out.failing)):
        reasons = [w for w, hit in (("后五名", unit_id in out.bottom), ("不达标", unit_id in out.failing)) if hit]
        session.add(Interview(year=year, unit_id=unit_id, reason=f"{year} 年度考评{'、'.join(reasons)}",
                              created_at=now or utcnow()))
        audit(session, "evaluation.interview", "unit", unit_id, f"{year} 年度考评{'、'.join(reasons)}，需约谈")
        out.interviews.append(unit_id)
        if three_years_running(bad_years.get(unit_id, set()) | {year}, year):
            reason = f"{year - 2}—{year} 年连续三年考评后五名或不达标"
            session.add(Blacklist(year=year, unit_id=unit_id, reason=reason))
            audit(session, "evaluation.blacklist", "unit", unit_id, reason)
            out.blacklisted.append(unit_id)
    return out


async def open_interviews(session: AsyncSession) -> list[tuple[Interview, Unit]]:
    rows = await session.exec(select(Interview, Unit).join(Unit, col(Unit.id) == Interview.unit_id).where(
        col(Interview.done_on).is_(None)).order_by(col(Interview.year), col(Interview.id)))
    return list(rows.all())


async def complete_interview(session: AsyncSession, unit_id: int, note: str, today: date, actor_user_id: str,
                             actor_account_id: int | None) -> Interview | None:
    row = (await session.exec(select(Interview).where(Interview.unit_id == unit_id, col(Interview.done_on).is_(None))
                              .order_by(col(Interview.year)))).first()
    if row is None:
        return None
    row.done_on, row.note, row.done_by = today, note, actor_user_id
    session.add(row)
    audit(session, "evaluation.interview_done", "unit", unit_id, json.dumps(
        {"年度": row.year, "说明": note}, ensure_ascii=False), actor_account_id=actor_account_id,
        actor_user_id=actor_user_id)
    return row


async def blacklist(session: AsyncSession) -> list[tuple[Blacklist, Unit]]:
    rows = await session.exec(select(Blacklist, Unit).join(Unit, col(Unit.id) == Blacklist.unit_id).order_by(
        col(Blacklist.year), col(Blacklist.id)))
    return list(rows.all())


async def annual_tiers(session: AsyncSession, year: int) -> dict[int, str]:
    """The tiers fixed by 年度定级 (empty before it)."""
    rows = await session.exec(select(ScoreSnapshot.unit_id, ScoreSnapshot.tier).where(
        ScoreSnapshot.year == year, ScoreSnapshot.month == 0))
    return dict(rows.all())


async def annual_result(session: AsyncSession, year: int, unit_id: int) -> ScoreSnapshot | None:
    return (await session.exec(select(ScoreSnapshot).where(
        ScoreSnapshot.year == year, ScoreSnapshot.month == 0, ScoreSnapshot.unit_id == unit_id))).first()
