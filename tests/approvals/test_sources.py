"""The three sources of approval items, end to end: `import approvals FILE`, `POST /api/approvals`
through a running bot, and DingTalk OA events pushed by the emulator as EVENT frames."""

from __future__ import annotations

import asyncio
import copy
import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openpyxl import Workbook
from sqlalchemy import func
from sqlmodel import select

from bot.db import Database
from bot.importing import ImportRejected, import_file
from models import ApprovalEvent, Unit
from models.approvals.ops import claim_event
from models.approvals.tables import ApprovalItem, ProcessedEvent
from models.outbox import OutboxMessage
from tests.conftest import FakeClock, beijing

DAY = "2026-11-20 10:00"  # a Friday, outside quiet hours: pushes go out at once
HEADERS = ["事项编号", "所属单位", "业务类型", "事项名称", "提交时间", "当前环节", "当前经办人", "状态", "办结时间"]
HEALTH_USCC = "11331099MB00000071"  # 示例县卫生健康局


def write_csv(path: Path, rows: list[list[Any]], headers: list[str] = HEADERS) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def export(stage_a: str = "受理") -> list[list[Any]]:
    return [
        ["SP-2026-0101", "教育局", "用编核准", "2026年教师招聘用编", "2026-11-16 09:30", stage_a, "bb_ywy1", "", ""],
        ["SP-2026-0102", HEALTH_USCC, "人员上编", "", "2026/11/17", "审核", "何琳", "办理中", ""],
        ["SP-2026-0103", "示例县教育局", "人员下编", "", "2026年11月10日", "办结", "张三丰", "已办结",
         "2026-11-12 16:00"],
    ]


async def items(db: Database) -> dict[str, ApprovalItem]:
    async with db.read() as s:
        return {i.number: i for i in (await s.exec(select(ApprovalItem))).all()}


async def history(db: Database, number: str) -> list[tuple[str, str, str]]:
    async with db.read() as s:
        query = (select(ApprovalEvent).join(ApprovalItem, ApprovalItem.id == ApprovalEvent.item_id)
                 .where(ApprovalItem.number == number).order_by(ApprovalEvent.id))
        return [(e.kind, e.stage, e.status) for e in (await s.exec(query)).all()]


async def count(db: Database, model: Any, *where: Any) -> int:
    async with db.read() as s:
        return (await s.exec(select(func.count()).select_from(model).where(*where))).one()


# -- 1. the file ----------------------------------------------------------------------------------------

async def test_import_csv_resolves_units_and_handlers_and_reimport_changes_nothing(demo_db, tmp_path):
    path = write_csv(tmp_path / "审批.csv", export())
    result = await import_file(demo_db, "approvals", path)
    assert (result.added, result.updated, result.unchanged) == (3, 0, 0)
    assert result.summary() == "审批事项导入完成：新增 3，更新 0，未变 0"
    got = await items(demo_db)
    async with demo_db.read() as s:
        units = {u.id: u.short_name for u in (await s.exec(select(Unit))).all()}
    a, b, c = got["SP-2026-0101"], got["SP-2026-0102"], got["SP-2026-0103"]
    assert [units[i.unit_id] for i in (a, b, c)] == ["教育局", "卫健局", "教育局"]
    assert (a.handler_user_id, a.handler_name, a.status, a.source) == ("bb_ywy1", "李明", "办理中", "file")
    assert a.submitted_at.astimezone(beijing(DAY).tzinfo).strftime("%Y-%m-%d %H:%M") == "2026-11-16 09:30"
    assert (b.handler_user_id, b.handler_name) == ("bb_ywy2", "何琳")  # a name that one account has
    assert (c.handler_user_id, c.handler_name) == ("", "张三丰")  # unknown: kept as the name only
    assert (c.status, str(c.completed_on), c.working_days) == ("已办结", "2026-11-12", 2)
    again = await import_file(demo_db, "approvals", path)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    assert await count(demo_db, ApprovalEvent) == 3  # one 提交 each, nothing more


async def test_import_xlsx_with_date_cells(demo_db, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(HEADERS)
    ws.append(["SP-X1", "教育局", "用编核准", "标题", datetime(2026, 11, 16, 9, 30), "受理", "bb_ywy1", "已办结",
               datetime(2026, 11, 17, 15, 0)])
    wb.save(tmp_path / "审批.xlsx")
    result = await import_file(demo_db, "审批事项", tmp_path / "审批.xlsx")
    assert (result.added, result.updated, result.unchanged) == (1, 0, 0)
    item = (await items(demo_db))["SP-X1"]
    assert (item.status, item.working_days) == ("已办结", 1)
    again = await import_file(demo_db, "approvals", tmp_path / "审批.xlsx")
    assert again.unchanged == 1


async def test_bad_rows_are_named_and_nothing_is_written(demo_db, tmp_path):
    rows = [
        ["SP-1", "不存在局", "用编核准", "", "2026-11-16", "受理", "", "", ""],
        ["SP-2", "教育局", "乱填", "", "2026-11-16", "受理", "", "", ""],
        ["SP-3", "教育局", "用编核准", "", "昨天", "", "", "", ""],
        ["SP-4", "教育局", "用编核准", "", "2026-11-16", "办结", "", "已办结", ""],
        ["SP-5", "教育局", "用编核准", "", "2026-11-16", "办结", "", "已办结", "2026-11-15"],
        ["SP-1", "教育局", "用编核准", "", "2026-11-16", "受理", "", "待定", ""],
        ["SP-7", "教育局", "用编核准", "", "2026-11-16", "受理", "", "", ""],
    ]
    with pytest.raises(ImportRejected) as exc:
        await import_file(demo_db, "approvals", write_csv(tmp_path / "bad.csv", rows))
    assert exc.value.lines == [
        "第2行 所属单位: 找不到单位“不存在局”",
        "第3行 业务类型: 未知业务类型“乱填”（可选：机构修改、用编核准、人员上编、人员下编、人员异动、人员修改、"
        "设立机构、划转职能、增加编制、用编计划、其他）",
        "第4行 提交时间: 无法识别的日期“昨天”（应如 2026-11-23）",
        "第4行 当前环节: 不能为空",
        "第5行 办结时间: 状态为已办结时必须填写",
        "第6行 办结时间: 早于提交时间",
        "第7行 事项编号: 与第2行重复",
    ]
    assert await count(demo_db, ApprovalItem) == 0


async def test_a_stage_change_in_a_new_export_is_recorded_and_told_once(demo_db, tmp_path):
    await import_file(demo_db, "approvals", write_csv(tmp_path / "1.csv", export("受理")))
    second = write_csv(tmp_path / "2.csv", export("审核"))
    result = await import_file(demo_db, "approvals", second)
    assert (result.added, result.updated, result.unchanged) == (0, 1, 2)
    assert await history(demo_db, "SP-2026-0101") == [("提交", "受理", "办理中"), ("环节", "审核", "")]
    await import_file(demo_db, "approvals", second)
    stage_notices = OutboxMessage.kind == "approval.stage"
    assert await count(demo_db, OutboxMessage, stage_notices) == 2  # 教育局's contact and leader, once
    assert await count(demo_db, OutboxMessage, stage_notices, OutboxMessage.recipient == "user:jyj_ll") == 1


async def test_a_unit_hears_once_per_import_whatever_the_number_of_its_items(demo_db, tmp_path):
    """Three 教育局 items change in one file: each gets its history event, the unit one digest."""
    rows = [[f"SP-E-{n}", "教育局", "用编核准", f"事项{n}", "2026-11-16 09:30", "受理", "", "", ""] for n in range(3)]
    rows.append(["SP-H-1", HEALTH_USCC, "人员上编", "", "2026-11-16 09:30", "受理", "", "", ""])
    await import_file(demo_db, "approvals", write_csv(tmp_path / "1.csv", rows))
    moved = [[*r[:5], "审核", *r[6:]] for r in rows[:3]] + [[*rows[3][:5], "办结", "", "已办结", "2026-11-17 10:00"]]
    result = await import_file(demo_db, "approvals", write_csv(tmp_path / "2.csv", moved))
    assert (result.added, result.updated) == (0, 4)
    for n in range(3):
        assert await history(demo_db, f"SP-E-{n}") == [("提交", "受理", "办理中"), ("环节", "审核", "")]
    assert await history(demo_db, "SP-H-1") == [("提交", "受理", "办理中"), ("环节", "办结", ""),
                                                ("状态", "办结", "已办结")]
    async with demo_db.read() as s:
        to_contact = (await s.exec(select(OutboxMessage).where(OutboxMessage.recipient == "user:jyj_ll"))).all()
    [digest] = to_contact
    text = json.loads(digest.payload)["text"]
    assert digest.kind == "approval.batch" and "审批进度更新（3 项）" in text
    assert all(f"SP-E-{n} 用编核准“事项{n}”已进入“审核”环节" in text for n in range(3))
    assert await count(demo_db, OutboxMessage, OutboxMessage.kind == "approval.status") >= 1  # 卫健局: one item
    await import_file(demo_db, "approvals", write_csv(tmp_path / "2.csv", moved))
    assert await count(demo_db, OutboxMessage, OutboxMessage.recipient == "user:jyj_ll") == 1


# -- 2. HTTP --------------------------------------------------------------------------------------------

def api_items(stage: str = "受理") -> list[dict[str, Any]]:
    return [
        {"number": "API-1", "unit": "教育局", "type": "用编核准", "title": "教师招聘用编",
         "submitted_at": "2026-11-19T09:00:00+08:00", "stage": stage, "handler": "bb_ywy1"},
        {"number": "API-2", "unit": HEALTH_USCC, "type": "人员上编", "submitted_at": "2026-11-18 10:00",
         "stage": "办结", "status": "已办结", "completed_at": "2026-11-19 16:00"},
    ]


async def post(bot, body: Any, token: str | None = "tok", raw: bytes | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    async with aiohttp.ClientSession() as http, \
            http.post(f"http://127.0.0.1:{bot.port}/api/approvals", data=data, headers=headers) as resp:
        return resp.status, await resp.json()


@pytest.fixture
async def api_bot(make_bot):
    return await make_bot(clock=FakeClock(beijing(DAY)), server={"api_token": "tok"})


async def test_http_push_adds_updates_and_notifies(api_bot, emulator):
    assert await post(api_bot, api_items()) == (200, {"added": 2, "updated": 0, "unchanged": 0})
    got = await items(api_bot.db)
    assert (got["API-1"].source, got["API-1"].handler_name, got["API-2"].working_days) == ("api", "李明", 1)
    status, body = await post(api_bot, {"items": api_items("审核")})
    assert (status, body) == (200, {"added": 0, "updated": 1, "unchanged": 1})
    [push] = await emulator.wait_push("jyj_ll")
    assert "API-1" in push.text and "进入“审核”环节" in push.text and "李明" in push.text
    await emulator.wait_push("jyj_fzr")
    assert await post(api_bot, api_items("审核")) == (200, {"added": 0, "updated": 0, "unchanged": 2})
    assert await history(api_bot.db, "API-1") == [("提交", "受理", "办理中"), ("环节", "审核", "")]
    await asyncio.sleep(0.5)
    assert len(emulator.pushes_to("jyj_ll")) == 1


async def test_http_bad_items_are_listed_and_nothing_is_written(api_bot):
    bad = api_items()
    bad[0]["unit"] = "X"
    bad[1].update(type="乱填", colour="red")
    bad.append("not an object")
    status, body = await post(api_bot, bad)
    assert status == 400
    assert body["error"] == "有 4 处错误，未写入任何事项"
    assert body["details"] == [
        "第1项 unit: 找不到单位“X”",
        "第2项 colour: 未知字段（可用：number、unit、type、title、submitted_at、stage、handler、status、completed_at）",
        "第2项 type: 未知业务类型“乱填”（可选：机构修改、用编核准、人员上编、人员下编、人员异动、人员修改、"
        "设立机构、划转职能、增加编制、用编计划、其他）",
        "第3项: 应为对象，如 {\"number\": \"…\", \"unit\": \"…\", …}",
    ]
    missing = [{"number": "API-9", "unit": "教育局", "stage": {"a": 1}}]
    status, body = await post(api_bot, missing)
    assert status == 400 and body["details"] == [
        "第1项 stage: 应为文本", "第1项 type: 不能为空", "第1项 submitted_at: 不能为空"]
    status, body = await post(api_bot, None, raw=b"{not json")
    assert status == 400 and "不是有效的 JSON" in body["error"]
    status, body = await post(api_bot, {"rows": []})
    assert status == 400 and "事项列表" in body["error"]
    assert await count(api_bot.db, ApprovalItem) == 0


async def test_http_refuses_without_the_token_and_over_the_limits(api_bot):
    for token in (None, "wrong", ""):
        status, body = await post(api_bot, api_items(), token=token)
        assert status == 401 and "令牌" in body["error"]
    status, body = await post(api_bot, [{}] * 5001)
    assert status == 413 and "5000" in body["error"]
    status, body = await post(api_bot, None, raw=b"[" + b" " * (5 * 1024 * 1024) + b"]")
    assert status == 413 and "5 MB" in body["error"]
    assert await count(api_bot.db, ApprovalItem) == 0


async def test_http_is_disabled_without_a_token(bot):
    status, body = await post(bot, api_items())
    assert status == 404 and "api_token" in body["error"]
    assert await count(bot.db, ApprovalItem) == 0


# -- 3. DingTalk OA events --------------------------------------------------------------------------------

START = {"userId": "jyj_ll", "date": "2026-11-20T01:00Z", "type": "START_PROCESS_INSTANCE", "result": "NONE",
         "showName": "发起", "activityId": "sid-start"}


def instance(tasks: list[dict[str, Any]], records: list[dict[str, Any]], status: str = "RUNNING",
             result: str = "", finish: str | None = None, originator: str = "jyj_ll") -> dict[str, Any]:
    """The `result` of GET /v1.0/workflow/processInstances, as DingTalk answers it."""
    return {"title": "王芳提交的用编核准", "status": status, "result": result, "businessId": "202611200001",
            "originatorUserId": originator, "originatorDeptId": "1", "createTime": "2026-11-20T01:00Z",
            "finishTime": finish, "formComponentValues": [], "operationRecords": [START, *records],
            "tasks": tasks, "approverUserIds": ["bb_ywy1", "bb_ywy2"], "ccUserIds": [], "bizAction": "NONE"}


def task(task_id: int, user: str, status: str, activity: str, result: str = "NONE") -> dict[str, Any]:
    return {"taskId": task_id, "userId": user, "status": status, "result": result, "activityId": activity,
            "processInstanceId": "inst-1", "createTime": "2026-11-20T01:00Z", "pcUrl": "", "mobileUrl": ""}


ACCEPTED = {"userId": "bb_ywy1", "date": "2026-11-20T01:30Z", "type": "EXECUTE_TASK_NORMAL", "result": "AGREE",
            "showName": "受理", "activityId": "act-accept"}
SENT_BACK = {"userId": "bb_ywy2", "date": "2026-11-20T01:40Z", "type": "REDIRECT_PROCESS", "result": "NONE",
             "showName": "审核", "activityId": "act-review"}


def event(kind: str, code: str = "PROC-1", instance_id: str = "inst-1", **extra: Any) -> dict[str, Any]:
    return {"processInstanceId": instance_id, "corpId": "dingemucorp", "createTime": 1795136400000,
            "title": "王芳提交的用编核准", "type": kind, "staffId": "jyj_ll", "url": "", "processCode": code, **extra}


@pytest.fixture
async def oa_bot(make_bot):
    return await make_bot(clock=FakeClock(beijing(DAY)), approvals={"process_codes": {"PROC-1": "用编核准"}})


async def push_event(emulator, bot, event_type: str, data: dict[str, Any], event_id: str) -> dict[str, Any]:
    """Send one event, wait for its ack and for the bot to finish handling it; returns the ack's data."""
    message_id = await emulator.send_event(event_type, data, event_id=event_id)
    ack = await emulator.wait_ack(message_id)
    assert ack["code"] == 200 and ack["headers"]["messageId"] == message_id
    await bot.stream.drain()
    return json.loads(ack["data"])


async def test_oa_events_follow_the_instance_once_per_event(oa_bot, emulator):
    db, flow = oa_bot.db, emulator.workflow
    flow["inst-1"] = instance([task(1, "bb_ywy1", "RUNNING", "act-accept")], [])
    ack = await push_event(emulator, oa_bot, "bpms_instance_change", event("start"), "ev-1")
    assert ack == {"status": "SUCCESS", "message": "OK"}
    item = (await items(db))["202611200001"]
    assert (item.stage, item.handler_user_id, item.handler_name, item.status) == ("审批中", "bb_ywy1", "李明", "办理中")
    assert (item.type, item.source, item.title) == ("用编核准", "oa", "王芳提交的用编核准")
    assert item.submitted_at.astimezone(beijing(DAY).tzinfo).strftime("%H:%M") == "09:00"

    flow["inst-1"] = instance([task(1, "bb_ywy1", "COMPLETED", "act-accept", "AGREE"),
                               task(2, "bb_ywy2", "RUNNING", "act-review")], [ACCEPTED])
    await push_event(emulator, oa_bot, "bpms_task_change", event("finish", result="agree"), "ev-2")
    item = (await items(db))["202611200001"]
    assert (item.stage, item.handler_user_id, item.handler_name) == ("审批中", "bb_ywy2", "何琳")

    back = instance([task(1, "bb_ywy1", "COMPLETED", "act-accept", "AGREE"),
                     task(2, "bb_ywy2", "COMPLETED", "act-review", "REDIRECTED"),
                     task(3, "bb_ywy1", "RUNNING", "act-accept")], [ACCEPTED, SENT_BACK])
    flow["inst-1"] = back
    await push_event(emulator, oa_bot, "bpms_task_change", event("start"), "ev-3")
    item = (await items(db))["202611200001"]
    assert (item.stage, item.handler_name) == ("受理", "李明")  # back at a node with a known name
    [push] = await emulator.wait_push("jyj_ll")
    assert "202611200001" in push.text and "进入“受理”环节" in push.text
    await emulator.wait_push("jyj_fzr")

    # a redelivery of ev-3 is acked again but not processed, even though the instance moved on
    flow["inst-1"] = copy.deepcopy(back)
    flow["inst-1"]["tasks"][2]["userId"] = "bb_ywy3"
    events_before = await count(db, ApprovalEvent)
    ack = await push_event(emulator, oa_bot, "bpms_task_change", event("start"), "ev-3")
    assert ack == {"status": "SUCCESS", "message": "OK"}
    assert (await items(db))["202611200001"].handler_user_id == "bb_ywy1"
    assert await count(db, ProcessedEvent, ProcessedEvent.event_id == "ev-3") == 1
    assert await count(db, ApprovalEvent) == events_before

    flow["inst-1"] = instance([task(1, "bb_ywy1", "COMPLETED", "act-accept", "AGREE"),
                               task(2, "bb_ywy2", "COMPLETED", "act-review", "AGREE")],
                              [ACCEPTED, SENT_BACK], status="COMPLETED", result="agree", finish="2026-11-20T01:55Z")
    await push_event(emulator, oa_bot, "bpms_instance_change", event("finish", result="agree"), "ev-4")
    item = (await items(db))["202611200001"]
    assert (item.stage, item.status, item.handler_user_id, item.working_days) == ("办结", "已办结", "", 0)
    assert await history(db, "202611200001") == [
        ("提交", "审批中", "办理中"), ("环节", "受理", ""), ("环节", "办结", ""), ("状态", "办结", "已办结")]
    pushes = await emulator.wait_push("jyj_ll", count=2)
    assert "已办结" in pushes[-1].text
    assert await count(db, ProcessedEvent) == 4


async def test_oa_events_of_other_processes_and_unknown_originators(oa_bot, emulator):
    db, flow = oa_bot.db, emulator.workflow
    flow["inst-2"] = instance([task(1, "bb_ywy1", "RUNNING", "act-accept")], [])
    ack = await push_event(emulator, oa_bot, "bpms_instance_change", event("start", "PROC-LEAVE", "inst-2"), "ev-a")
    assert ack == {"status": "SUCCESS", "message": "OK"}
    assert await count(db, ApprovalItem) == 0 and await count(db, ProcessedEvent) == 0  # not ours: ignored

    flow["inst-3"] = instance([task(1, "bb_ywy1", "RUNNING", "act-accept")], [], originator="stranger")
    await push_event(emulator, oa_bot, "bpms_instance_change", event("start", instance_id="inst-3"), "ev-b")
    assert await count(db, ApprovalItem) == 0  # no account, no unit: skipped (and logged)
    assert await count(db, ProcessedEvent, ProcessedEvent.event_id == "ev-b") == 1

    ack = await push_event(emulator, oa_bot, "user_add_org", {"userId": ["x"]}, "ev-c")
    assert ack == {"status": "SUCCESS", "message": "OK"}  # other event types are acked and left alone


async def test_no_event_subscription_without_process_codes(bot, emulator):
    assert not bot.stream._is_event_required


async def test_an_event_claim_rolled_back_can_be_claimed_again(db):
    with pytest.raises(RuntimeError):
        async with db.write() as s:
            assert await claim_event(s, event_id="ev-x", event_type="bpms_task_change")
            raise RuntimeError("crash before the commit")
    async with db.write() as s:
        assert await claim_event(s, event_id="ev-x", event_type="bpms_task_change")
    async with db.write() as s:
        assert not await claim_event(s, event_id="ev-x", event_type="bpms_task_change")


def test_process_codes_config_is_a_table_of_business_types(tmp_path):
    from bot.config import ConfigError, load_config

    path = tmp_path / "config.toml"
    path.write_text('[approvals]\nprocess_codes = { "PROC-ABC" = "用编核准", "PROC-DEF" = "人员上编" }\n',
                    encoding="utf-8")
    assert load_config(path, env={}).approvals.process_codes == {"PROC-ABC": "用编核准", "PROC-DEF": "人员上编"}
    for text, wanted in [('process_codes = { "PROC-ABC" = "请假" }', "“请假”无效"),
                         ('process_codes = ["PROC-ABC"]', "类型错误"),
                         ('process_codes = { "PROC-ABC" = 1 }', "类型错误")]:
        path.write_text(f"[approvals]\n{text}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=r"\[approvals\] process_codes") as exc:
            load_config(path, env={})
        assert wanted in str(exc.value) and "\n" not in str(exc.value)
