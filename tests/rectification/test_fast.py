"""Fast tier: 交办 → the unit's list → 销号, and 转整改 through the problem-source registry."""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from bot.importing import import_file
from models.outbox import OutboxMessage, enqueue, user_recipient
from models.rectification.ops import find_problem, history


async def test_assign_then_the_unit_sees_it_and_the_office_closes_it(fast):
    made = await fast.say("bb_ywy1", "交办 教育局 巡察 15个工作日 超编借调人员3名；要求：月底前清退")
    assert made.outcome == "ok", made.text
    number = re.search(r"ZG-\d{4}-\d{4}", made.text)
    assert number, made.text
    mine = await fast.say("jyj_ll", "整改")
    assert number.group() in mine.text
    other = await fast.say("czj_ll", f"问题 {number.group()}")
    assert other.outcome == "not_found" and "超编借调" not in other.text
    closed = await fast.say("bb_ywy1", f"销号 {number.group()} 已核实")
    assert closed.outcome == "ok" and "销号" in closed.text


async def test_turning_an_unknown_number_into_a_problem_explains_the_numbers(fast):
    answer = await fast.say("bb_ywy1", "转整改 ABC")
    assert "预警号" in answer.text and "反馈号" in answer.text and "走访记录号" in answer.text
    missing = await fast.say("bb_ywy1", "转整改 FK-2026-9999")
    assert missing.outcome == "not_found" and "FK-2026-9999" in missing.text


async def test_feedback_becomes_a_problem_and_its_closing_reaches_the_supervisor(fast):
    filed = await fast.say("jdy1", "反馈 教育局 借调人员长期不回原单位")
    number = re.search(r"FK-\d{4}-\d{4}", filed.text)
    assert number, filed.text
    turned = await fast.say("bb_ywy1", f"转整改 {number.group()} 10个工作日")
    assert turned.outcome == "ok", turned.text
    problem = re.search(r"ZG-\d{4}-\d{4}", turned.text)
    assert problem, turned.text
    await fast.say("bb_ywy1", f"销号 {problem.group()}")
    async with fast.services.db.read() as session:
        texts = [m.payload for m in (await session.exec(select(OutboxMessage))).all()]
    assert any("已销号" in t and problem.group() in t for t in texts)


# --- the handlers after the move to models/rectification (queries.py, ops.py) and real templates -------------

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"
RAW = re.compile(r"(?<![.\w])(select|update|delete|insert)\(|session\.(add|exec|get|execute|delete)\b")


def test_no_handler_holds_a_raw_query_or_a_text_reply():
    """Every capability: queries and state changes live in models/, every reply has a real template."""
    found = []
    for cap in sorted(p for p in HANDLERS.iterdir() if (p / "__init__.py").exists()):
        for path in sorted(cap.glob("*.py")):
            source = path.read_text(encoding="utf-8")
            for n, line in enumerate(source.splitlines(), 1):
                if line.lstrip().startswith("#"):
                    continue
                if RAW.search(line) or "message.md.j2" in line or "text_reply(" in line:
                    found.append(f"{path.relative_to(HANDLERS)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


async def _assign(fast) -> str:
    made = await fast.say("bb_ywy1", "交办 教育局 巡察 15个工作日 超编借调人员3名；要求：月底前清退")
    number = re.search(r"ZG-\d{4}-\d{4}", made.text)
    assert made.outcome == "ok" and number, made.text
    return number.group()


async def test_report_and_review_answers_come_from_the_status_template(fast):
    number = await _assign(fast)
    early = await fast.say("bb_ywy1", f"退回 {number} 材料不全")
    assert early.text == f"{number} 目前是“待整改”，单位还没有报告整改，无需退回。"
    reported = await fast.say("jyj_ll", f"整改 {number} 已清退借调人员3名")
    assert reported.reply.template == "rectification_status.md.j2"
    assert reported.text == (f"已提交 {number} 的整改报告，编办审核后会通知您。如有照片或文件，请在 30 分钟内直接发送"
                             "到这里，会作为整改材料一并提交。")
    again = await fast.say("jyj_ll", f"整改 {number} 再报一次")
    assert again.text == f"{number} 的整改报告正在等编办审核，请耐心等待结果。"
    back = await fast.say("bb_ywy1", f"退回 {number} 缺少清退文件")
    assert back.text == f"{number} 已退回，已通知单位。"
    closed = await fast.say("bb_ywy1", f"销号 {number}")
    assert closed.text == f"{number} 已销号，已通知单位。"
    twice = await fast.say("bb_ywy1", f"销号 {number}")
    assert twice.text == f"{number} 已销号。"
    late = await fast.say("jyj_ll", f"申请延期 {number} 2027-03-01 等编委会")
    assert late.text == f"{number} 已销号，无需延期。"


async def test_extension_answers_and_the_deadline_rule(fast):
    number = await _assign(fast)
    asked = await fast.say("jyj_ll", f"申请延期 {number} 2027-03-01 需等待编委会研究")
    assert asked.text == f"已提交 {number} 的延期申请（至 2027-03-01），编办审核后会通知您。"
    pending = await fast.say("jyj_ll", f"申请延期 {number} 2027-03-05 再延")
    assert pending.text == f"{number} 已有一个延期申请在审核中。"
    approved = await fast.say("bb_ywy1", f"同意延期 {number}")
    assert approved.text == f"已同意 {number} 的延期申请，已通知单位。"
    none = await fast.say("bb_ywy1", f"同意延期 {number}")
    assert none.outcome == "invalid" and none.text == f"{number} 没有待审核的延期申请。"
    earlier = await fast.say("jyj_ll", f"申请延期 {number} 2027-02-01 提前")
    assert earlier.outcome == "invalid" and earlier.text == "新期限应晚于现在的期限 2027-03-01。"
    async with fast.services.db.read() as session:
        problem = await find_problem(session, number)
    assert problem is not None and (problem.deadline, problem.revision) == (date(2027, 3, 1), 1)


async def test_unknown_problem_and_unit_keep_their_exact_wording(fast):
    missing = await fast.say("bb_ywy1", "问题 ZG-2026-9999")
    assert missing.outcome == "not_found"
    assert missing.text == "没有找到问题“ZG-2026-9999”。发送 整改（单位）或 台账（编办）查看问题清单。"
    unit = await fast.say("bb_ywy1", "台账 火星局")
    assert unit.outcome == "not_found" and unit.text == "没有找到单位“火星局”。用法：台账 ［红灯｜黄灯｜绿灯｜单位］"


def _ledger_file(path: Path, number: str, problem, status: str) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["问题编号", "所属单位", "问题来源", "问题描述", "整改要求", "交办日期", "整改期限", "状态"])
        writer.writerow([number, "教育局", problem.source, problem.description, problem.requirement,
                         problem.assigned_on.isoformat(), problem.deadline.isoformat(), status])
    return path


async def test_the_import_changes_a_chat_problem_through_the_same_state_changes(fast, tmp_path, monkeypatch):
    from models.rectification import ops

    number = await _assign(fast)
    db = fast.services.db
    async with db.write() as session:
        problem = await find_problem(session, number)
        assert problem is not None
        await enqueue(session, dedup_key=f"{ops.REMIND_KIND}:{problem.id}:r0:before5:jyj_ll", kind=ops.REMIND_KIND,
                      recipient=user_recipient("jyj_ll"), msg_key="sampleText", param={"content": "提醒"})
    calls: list[str] = []
    change_status = ops.change_status

    async def spy(session, problem, status):
        calls.append(status)
        await change_status(session, problem, status)

    monkeypatch.setattr(ops, "change_status", spy)
    outbox = await _count(db, OutboxMessage)
    result = await import_file(db, "problems", _ledger_file(tmp_path / "close.csv", number, problem, "已销号"))
    assert (result.added, result.updated, result.unchanged) == (0, 1, 0)
    assert calls == ["已销号"]  # the import closes through the same rule as 销号 in chat
    async with db.read() as session:
        closed = await find_problem(session, number)
        assert closed is not None and closed.closed_at is not None and closed.status == "已销号"
        events = [e.action for e in await ops.history(session, closed)]
        reminders = (await session.exec(select(OutboxMessage).where(
            OutboxMessage.kind == ops.REMIND_KIND))).all()
    assert events == ["交办", "导入更新"]
    assert [m.status for m in reminders] == ["cancelled"]
    assert await _count(db, OutboxMessage) == outbox  # no notification on import
    again = await import_file(db, "problems", _ledger_file(tmp_path / "again.csv", number, problem, "已销号"))
    assert (again.updated, again.unchanged) == (0, 1) and calls == ["已销号"]  # a re-import changes nothing
    chat = await fast.say("bb_ywy1", f"销号 {number}")
    assert chat.text == f"{number} 已销号。"
    reopened = await import_file(db, "problems", _ledger_file(tmp_path / "reopen.csv", number, problem, "整改中"))
    assert reopened.updated == 1 and calls == ["已销号", "整改中"]
    async with db.read() as session:
        back = await find_problem(session, number)
    assert back is not None and (back.status, back.closed_at) == ("整改中", None)


async def test_a_new_closed_problem_of_an_import_is_closed_by_create_problem(fast, tmp_path):
    db = fast.services.db
    path = tmp_path / "new.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["问题编号", "所属单位", "问题来源", "问题描述", "交办日期", "整改期限", "状态"])
        writer.writerow(["LS-2020-7", "教育局", "审计", "历史问题", "2020-03-02", "2020-06-30", "已销号"])
    result = await import_file(db, "problems", path)
    assert result.added == 1
    async with db.read() as session:
        problem = await find_problem(session, "LS-2020-7")
        assert problem is not None
        events = await history(session, problem)
    assert problem.closed_at is not None and problem.origin == "import:new.csv"
    assert [(e.action, e.actor_name) for e in events] == [("导入", "导入")]


async def _count(db, model) -> int:
    async with db.read() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def test_a_provisional_deadline_tells_the_administrators_from_a_template(fast):
    made = await fast.say("bb_ywy1", "交办 教育局 巡察 2028-03-01 超编借调人员3名")
    assert made.outcome == "ok", made.text
    async with fast.services.db.read() as session:
        rows = (await session.exec(select(OutboxMessage).where(OutboxMessage.kind == "calendar.provisional"))).all()
    expected = ("2028 年的法定节假日安排尚未载入，涉及 2028 年的整改期限暂按周一至周五"
                "（扣除元旦、劳动节、春节、国庆节）计算并标注“暂定”。国务院办公厅公布安排后，"
                "请用 import holidays 导入全年安排（“全年正式安排”列填“是”）。")
    assert [json.loads(r.payload)["text"] for r in rows] == [expected]
