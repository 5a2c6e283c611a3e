"""监督员反馈: 反馈 (guided or one line), 我的反馈; the office's 反馈台账, 受理, 答复, 转整改 FK-…; 反馈统计."""

from __future__ import annotations

import re
from typing import Any

from bot.context import Button, Context, Incoming, Reply
from bot.dialogue import Flow, Invalid, Step, unit_step
from bot.files import FileStore, fetch_attachments
from bot.notify import notify_users
from bot.render import md_escape
from bot.router import Command, Router
from handlers.rectification.common import office_people, push, usage
from handlers.rectification.sources import Draft, ProblemSource, ProblemSources
from models import Feedback
from models.accounts.roles import Right
from models.feedback.ops import accept, answer, file_feedback, to_problem
from models.feedback.queries import account_by_id, feedback_by_number, open_feedback, supervisor_feedback
from models.feedback.tables import CATEGORIES, OPEN
from models.rectification.rules import local_today
from models.staffing.unit_match import match_units


def note(kind: str, outcome: str = "ok", **data: Any) -> Reply:
    """The short answers of 监督员反馈 (one template with a `kind` switch)."""
    return Reply("feedback_notes.md.j2", {"kind": kind, **data}, outcome=outcome)


YES, NO = {"是", "可以", "同意", "显示", "1"}, {"否", "不", "不可以", "不显示", "匿名", "2"}


async def _parse_category(text: str, msg: Incoming, ctx: Context, data: dict[str, Any]) -> str:
    if text not in CATEGORIES:
        raise Invalid("请回复类别的序号。")
    return text


_parse_unit = unit_step("，不涉及具体单位可回复 跳过")


async def _parse_content(text: str, msg: Incoming, ctx: Context, data: dict[str, Any]) -> str:
    return text.strip()[:4000] or "（见附件）"


async def _parse_show(text: str, msg: Incoming, ctx: Context, data: dict[str, Any]) -> bool:
    word = text.strip()
    if word in YES:
        return True
    if word in NO:
        return False
    raise Invalid("请回复 1（可以显示）或 2（不显示）。")


async def _store_files(msg: Incoming, ctx: Context, data: dict[str, Any]) -> int:
    store = FileStore(ctx.services.config.storage_dir)
    max_bytes = ctx.services.config.storage.max_file_mb * 1024 * 1024
    api = ctx.services.api
    if api is None:
        return 0
    try:
        stored = await fetch_attachments(api, store, list(msg.attachments), subdir="feedback",
                                         max_bytes=max_bytes)
    except Exception:
        return 0
    files = data.setdefault("_files", [])
    files += [{"kind": a.kind, "file_name": a.file_name or f.file_name, "path": f.path, "size": f.size,
               "sha256": f.sha256} for a, f in zip(msg.attachments, stored, strict=True)]
    return len(stored)


def _summary(data: dict[str, Any]) -> str:
    return "\n".join([
        f"- 类别：{md_escape(data['category'])}", f"- 涉及单位：{md_escape(data.get('unit_name') or '（未指定）')}",
        f"- 内容：{md_escape(data['content'])}", f"- 附件：{len(data.get('_files', []))} 个",
        f"- 向单位显示您的姓名：{'是' if data['show_name'] else '否'}",
    ])


async def _finish(msg: Incoming, ctx: Context, data: dict[str, Any]) -> Reply:
    return await _submit(msg, ctx, data)


FILE_FLOW = Flow(
    name="feedback.file", title="监督员反馈",
    steps=(
        Step("category", "请选择反馈类别（回复序号）：", _parse_category, choices=CATEGORIES),
        Step("unit", "涉及哪个单位？（可写简称；不涉及具体单位请回复 跳过）", _parse_unit, optional=True),
        Step("content", "请写下反馈内容：", _parse_content, multi=True, free_text=True,
             reserved=frozenset(YES | NO)),
        Step("show_name", "是否允许向被反映单位显示您的姓名？\n1. 可以显示\n2. 不显示（默认）", _parse_show),
    ),
    summary=_summary, finish=_finish, on_attachment=_store_files,
)


async def _submit(msg: Incoming, ctx: Context, data: dict[str, Any]) -> Reply:
    assert ctx.account is not None
    if not str(data.get("content", "")).strip() and not data.get("_files"):  # never confirm an empty report
        return await ctx.services.dialogues.start(msg, ctx, FILE_FLOW.name, _without(data, "content"),
                                                  note="反馈内容是空的，还没有登记。")
    async with ctx.db.write() as session:
        fb = await file_feedback(session, supervisor=ctx.account, category=data["category"],
                                 unit_id=data.get("unit") or None, content=data["content"],
                                 show_name=bool(data.get("show_name")), at=ctx.services.clock(),
                                 files=data.get("_files", []))
        info = {"number": fb.number, "category": fb.category, "unit": data.get("unit_name") or "（未指定）",
                "content": fb.content, "who": ctx.account.name, "files": len(data.get("_files", []))}
        await push(session, ctx, kind="feedback.filed", key=fb.number, users=await duty_staff(session, ctx),
                   template="feedback_filed.md.j2", data=info,
                   buttons=[Button("受理", f"受理 {fb.number}"), Button("转整改", f"转整改 {fb.number}"),
                            Button("答复", f"答复 {fb.number}")])
    unit = data["unit_name"] if data.get("unit") and data.get("unit_name") else ""
    return note("filed", number=fb.number, unit=unit)


async def duty_staff(session: Any, ctx: Context) -> list[str]:
    """The office staff on the feedback duty list ([feedback] duty_user_ids), or all of them."""
    duty = ctx.services.config.feedback.duty_user_ids
    return list(duty) if duty else await office_people(session)


_HEAD = re.compile(r"[\s:：,，、]+")


async def _to_single_chat(msg: Incoming, ctx: Context) -> Reply:
    """A short answer in the group; the conversation continues in single chat, with the text kept there."""
    async with ctx.db.write() as session:
        await notify_users(session, ctx.services.renderer, kind="feedback.group", key=msg.msg_id[:64],
                           user_ids=[msg.user_id], template="feedback_notes.md.j2",
                           data={"kind": "group_push", "said": ctx.raw_args.strip()})
    return note("group_note", "redirected")


def _without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys and k.lstrip("_") not in keys}


async def give_feedback(msg: Incoming, ctx: Context) -> Reply:
    """`反馈` starts the guided dialogue; `反馈 教育局 内容…` files it in one message. Nothing typed is lost:
    when the first word is not a unit, the whole text is the content and the unit is asked for."""
    if msg.is_group:  # a supervisor's report is confidential: never filed in front of the units
        return await _to_single_chat(msg, ctx)
    text = ctx.raw_args.strip()
    if not text:
        return await ctx.services.dialogues.start(msg, ctx, FILE_FLOW.name)
    head, rest = [*_HEAD.split(text, maxsplit=1), ""][:2]
    data: dict[str, Any] = {"category": "其他", "show_name": False}
    try:
        data["unit"] = await _parse_unit(head, msg, ctx, data)
    except Invalid:
        data.pop("_unit_choices", None)
    if "unit" in data:
        if rest.strip():
            data["content"] = rest.strip()[:4000]
            return await _submit(msg, ctx, data)
        return await ctx.services.dialogues.start(msg, ctx, FILE_FLOW.name, data,
                                                  note=f"涉及单位：{data['unit_name']}。")
    data.update(content=text[:4000], _content=[text[:4000]])
    async with ctx.db.read() as session:
        several = await match_units(session, head) if rest.strip() else []
    if len(several) > 1:  # the first word names several units: the guided form's numbered choices
        data["_unit_choices"] = [(u.id, u.name) for u in several]
        listed = "\n".join(f"{i}. {u.name}" for i, u in enumerate(several, 1))
        note = f"反馈内容已记下。“{head}”对应多个单位，请回复序号选择：\n{listed}"
    else:
        note = f"反馈内容已记下：{text[:200]}\n\n但没有识别出涉及的单位。"
    return await ctx.services.dialogues.start(msg, ctx, FILE_FLOW.name, data, note=note)


async def my_feedback(msg: Incoming, ctx: Context) -> Reply:
    assert ctx.account is not None
    if msg.is_group:
        return note("private_only", "redirected", what="我的反馈")
    assert ctx.account.id is not None
    async with ctx.db.read() as session:
        rows = await supervisor_feedback(session, account_id=ctx.account.id)
    items = [{"number": f.number, "status": f.status, "content": f.content, "answer": f.answer} for f in rows]
    return Reply("feedback_mine.md.j2", {"items": items})


async def _load(ctx: Context, session: Any, token: str) -> Feedback | None:
    return await feedback_by_number(session, number=token)


async def _tell_supervisor(session: Any, ctx: Context, fb: Feedback, what: str, detail: str = "") -> None:
    supervisor = await account_by_id(session, account_id=fb.supervisor_id)
    assert supervisor is not None
    await push(session, ctx, kind="feedback.status", key=f"{fb.number}:{what}", users=[supervisor.user_id],
               template="feedback_status.md.j2",
               data={"number": fb.number, "what": what, "detail": detail, "content": fb.content})


async def accept_feedback(msg: Incoming, ctx: Context) -> Reply:
    if not ctx.args:
        return usage("请写上回执号。", "受理 FK-号", "受理 FK-2026-0001")
    async with ctx.db.write() as session:
        fb = await _load(ctx, session, ctx.args.split()[0])
        if fb is None:
            return note("not_found", "not_found", token=ctx.args.split()[0])
        if fb.status not in OPEN or fb.accepted_at:
            return note("status", number=fb.number, status=fb.status, tail="无需再受理")
        assert ctx.account is not None
        await accept(session, fb, ctx.account)
        await _tell_supervisor(session, ctx, fb, "已受理", "编办正在办理，办结后会答复您。")
    return note("accepted", number=fb.number)


async def answer_feedback(msg: Incoming, ctx: Context) -> Reply:
    number, _, text = ctx.raw_args.strip().partition(" ")
    if not number:
        return usage("请写上回执号和答复内容。", "答复 FK-号 答复内容", "答复 FK-2026-0001 已约谈该单位并完成整改")
    if not text.strip():  # the 答复 button: ask for the answer in a one-step dialogue
        async with ctx.db.read() as session:
            fb = await _load(ctx, session, number)
        if fb is None:
            return note("not_found", "not_found", token=number)
        if fb.status not in OPEN:
            return note("status", number=fb.number, status=fb.status, tail="无需答复")
        shown = "" if msg.is_group else fb.content[:40]  # a report's text is never shown in a group
        return await ctx.services.dialogues.start(msg, ctx, ANSWER_FLOW.name, {"number": fb.number, "content": shown})
    return await _answer(ctx, number, text.strip())


async def _finish_answer(msg: Incoming, ctx: Context, data: dict[str, Any]) -> Reply:
    return await _answer(ctx, data["number"], data["answer"])


async def _parse_answer(text: str, msg: Incoming, ctx: Context, data: dict[str, Any]) -> str:
    if len(text.strip()) < 2:
        raise Invalid("答复太短了，请写清楚办理情况。")
    return text.strip()[:2000]


ANSWER_FLOW = Flow(
    name="feedback.answer", title="答复监督员反馈",
    steps=(Step("answer", lambda d: f"请写下对 {d['number']}{'（' + d['content'] + '）' if d['content'] else ''}"
                                    "的答复，监督员会收到：",
                _parse_answer, free_text=True),),
    summary=lambda d: "", finish=_finish_answer, confirm=False,
)


async def _answer(ctx: Context, number: str, text: str) -> Reply:
    cal, today = await ctx.services.calendar(), local_today(ctx.services.clock())
    async with ctx.db.write() as session:
        fb = await _load(ctx, session, number)
        if fb is None:
            return note("not_found", "not_found", token=number)
        if fb.status not in OPEN:
            return note("status", number=fb.number, status=fb.status, tail="无需答复")
        days = max(0, cal.workdays_between(local_today(fb.created_at), today))
        assert ctx.account is not None
        await answer(session, fb, ctx.account, text, days)
        await _tell_supervisor(session, ctx, fb, "已办结", text)
    return note("answered", number=fb.number)


async def feedback_draft(msg: Incoming, ctx: Context, number: str) -> Draft | Reply:
    """转整改 FK-…: the report as a problem draft; the unit never learns who filed it unless allowed."""
    async with ctx.db.read() as session:
        fb = await _load(ctx, session, number)
        supervisor = await account_by_id(session, account_id=fb.supervisor_id) if fb else None
    if fb is None:
        return note("not_found", "not_found", token=number)
    if fb.unit_id is None:
        return note("no_unit", "invalid", number=fb.number)
    if fb.status not in OPEN:
        return note("status", number=fb.number, status=fb.status, tail="不能再转整改")
    feedback_number = fb.number
    who = f"（反映人：{supervisor.name}）" if fb.show_name and supervisor else ""

    async def link(session: Any, problem: Any) -> None:
        row = await feedback_by_number(session, number=feedback_number)
        assert row is not None and ctx.account is not None
        await to_problem(session, row, ctx.account, problem)
        await _tell_supervisor(session, ctx, row, "已转为整改问题",
                               f"整改问题 {problem.number}，期限 {problem.deadline}。")

    return Draft(unit_id=fb.unit_id, source="监督员反馈", description=fb.content + who,
                 requirement="请核实监督员反映的情况并整改。", origin=f"feedback:{fb.number}", link=link)


async def tell_feedback_solved(session: Any, ctx: Context, origin: str, problem_number: str) -> None:
    """When a problem that came from feedback is 销号, the supervisor hears it."""
    fb = await feedback_by_number(session, number=origin.split(":", 1)[1])
    if fb is not None:
        await _tell_supervisor(session, ctx, fb, "整改问题已销号", f"{problem_number} 已整改到位并销号。")


async def feedback_ledger(msg: Incoming, ctx: Context) -> Reply:
    if msg.is_group:  # supervisors' reports are never listed in front of the units
        return note("private_only", "redirected", what="反馈台账")
    async with ctx.db.read() as session:
        rows = await open_feedback(session)
    items = [{"number": f.number, "category": f.category, "unit": u.label if u else "（未指定）",
              "content": f.content, "status": f.status} for f, u in rows]
    return Reply("feedback_ledger.md.j2", {"items": items})


def add_problem_source(sources: ProblemSources) -> None:
    sources.add(ProblemSource(key="feedback", prefix="FK", label="反馈号", example="转整改 FK-2026-0001 20个工作日",
                              load=feedback_draft, on_closed=tell_feedback_solved))


def register(router: Router) -> None:
    add = router.add
    add(Command("反馈", give_feedback, Right.FEEDBACK_FILE, "向编办反映问题或提出建议（按步骤填写）",
                "反馈 [单位 内容]", aliases=("我要反馈", "反映问题"), topic="监督员"))
    add(Command("我的反馈", my_feedback, Right.FEEDBACK_FILE, "查看我提交的反馈和办理情况",
                aliases=("反馈记录", "我的反映"), topic="监督员"))
    add(Command("反馈台账", feedback_ledger, Right.OFFICE_HANDLE, "待办的监督员反馈", aliases=("待办反馈", "反馈台帐"),
                topic="监督员"))
    add(Command("受理", accept_feedback, Right.OFFICE_HANDLE, "受理监督员反馈", "受理 FK-号", topic="监督员"))
    add(Command("答复", answer_feedback, Right.OFFICE_HANDLE, "答复监督员反馈（办结）", "答复 FK-号 内容",
                topic="监督员"))

