"""Fast tier: 审批 commands through the real router and dispatcher on the demo county, no emulator."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import event, func
from sqlmodel import select

import handlers.approvals.progress as progress_module
from bot.demo.approvals import load_demo_approvals
from models import ApprovalEvent, ApprovalOptOut, AuditEvent, OutboxMessage


@pytest.fixture
async def county(fast):
    """The fast bot with the demo's 15 approval items, dated back from its clock's day."""
    await load_demo_approvals(fast.services.db, date(2026, 11, 23))
    return fast


async def test_progress_of_an_unknown_number_is_not_found(fast):
    answer = await fast.say("jyj_ll", "进度 SP-2026-9999")
    assert answer.outcome == "not_found"
    assert answer.text == "没有找到审批事项“SP-2026-9999”。发送 我的审批 查看本单位的事项。"


async def test_office_statistics_answer_on_an_empty_county(fast):
    answer = await fast.say("bb_ld1", "办结率")
    assert answer.outcome == "ok" and "办结" in answer.text


async def test_progress_is_one_joined_read_and_the_events(county, monkeypatch):
    """进度 <编号>: item, unit and handler account in one statement, the 全程纪实 in a second."""
    statements: list[str] = []
    counting = False
    original = progress_module._progress

    async def counted(*args, **kwargs):
        nonlocal counting
        counting = True
        try:
            return await original(*args, **kwargs)
        finally:
            counting = False

    def count(conn, cursor, statement, parameters, context, executemany):
        if counting and not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK")):  # SQLite's transaction hook
            statements.append(statement)

    monkeypatch.setattr(progress_module, "_progress", counted)
    await county.say("jyj_ll", "进度 SP-2026-0011")  # loads the working-day calendar into the services
    event.listen(county.services.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        answer = await county.say("jyj_ll", "进度 sp-2026-0012")
    finally:
        event.remove(county.services.db.engine.sync_engine, "before_cursor_execute", count)
    assert answer.outcome == "ok"
    assert "2026年教师招聘用编" in answer.text and "教育局" in answer.text and "李明" in answer.text
    assert "全程纪实" in answer.text and "提交" in answer.text
    assert len(statements) == 2, statements


async def test_a_unit_never_sees_another_units_item(county):
    answer = await county.say("jyj_ll", "进度 SP-2026-0013")  # 卫健局's item
    assert answer.outcome == "not_found"


async def test_progress_by_name_lists_several_matches(county):
    answer = await county.say("bb_ld1", "进度 用编核准")
    assert answer.outcome == "not_found"
    answer = await county.say("bb_ld1", "进度 上编")
    assert answer.text.startswith("找到多个事项，请发送 进度 编号：\n\n- SP-2026-")
    assert "新招聘教师上编（" in answer.text


async def test_contact_handler_tells_the_handler_through_the_outbox(county):
    answer = await county.say("jyj_ll", "联系经办人 SP-2026-0012")
    assert answer.text == "已请经办人 李明 与您联系。"
    async with county.services.db.read() as s:
        [row] = (await s.exec(select(OutboxMessage).where(OutboxMessage.kind == "approval.contact"))).all()
    assert row.recipient == "user:bb_ywy1"
    assert "想了解审批事项 SP-2026-0012「2026年教师招聘用编」的办理情况" in json.loads(row.payload)["text"]
    missing = await county.say("jyj_ll", "联系经办人 SP-2026-0013")
    assert missing.text == "没有找到在办的审批事项“SP-2026-0013”或它没有经办人。"


async def test_a_note_is_recorded_audited_and_shown(county):
    answer = await county.say("bb_ywy1", "纪实 sp-2026-0003 衔接 已与组织部沟通人选")
    assert answer.text == "已记入 SP-2026-0003 的全程纪实：衔接。"
    async with county.services.db.read() as s:
        notes = (await s.exec(select(func.count()).select_from(ApprovalEvent).where(
            ApprovalEvent.kind == "纪实", ApprovalEvent.detail == "已与组织部沟通人选"))).one()
        audited = (await s.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "approval.note", AuditEvent.entity_id == "SP-2026-0003"))).one()
    assert notes == 1 and audited == 1
    assert "已与组织部沟通人选" in (await county.say("bb_ld1", "进度 SP-2026-0003")).text
    missing = await county.say("bb_ywy1", "纪实 SP-2026-9999 衔接 无")
    assert (missing.outcome, missing.text) == ("not_found", "没有找到审批事项“SP-2026-9999”。")


async def test_unsubscribe_and_subscribe(county):
    assert (await county.say("jyj_ll", "退订审批通知")).text == "已退订审批进度通知，需要时发送 订阅审批通知 恢复。"
    async with county.services.db.read() as s:
        assert len((await s.exec(select(ApprovalOptOut))).all()) == 1
    assert (await county.say("jyj_ll", "订阅审批通知")).text == "已订阅审批进度通知。"
    async with county.services.db.read() as s:
        assert (await s.exec(select(ApprovalOptOut))).all() == []


async def test_an_unknown_unit_is_named(county):
    answer = await county.say("bb_ld1", "审批 不存在的局")
    assert (answer.outcome, answer.text) == ("not_found", "没有找到单位“不存在的局”。")
    assert "教育局的审批事项" in (await county.say("jyj_ll", "我的审批")).text
