"""The one multi-turn conversation mechanism: explicit steps, state in a table, timeout, 取消 and 上一步.

A `Flow` is an ordered list of `Step`s and a `finish` coroutine; its state (current step, the
answers so far) lives in the `dialogue` table keyed by (user, conversation), so it survives a
restart and a user's single chat never mixes with a group chat. Like PTB's ConversationHandler,
but persisted. Text that is a reserved word (取消, 上一步, 跳过, 确认) is handled here; any other
text is the answer to the current step. Nothing written is lost: 上一步 keeps the earlier answer and
shows it (保留 keeps it, a new answer replaces it; a multi-message step keeps its parts, which can be
added to or cleared with 重写), and reserved words are never taken as free text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import col, delete, select

from bot.context import Context, Incoming, Reply
from bot.render import Markdown, md_escape
from bot.router import normalize
from models.dialogue import Dialogue

CANCEL = {"取消", "退出", "算了", "cancel"}
BACK = {"上一步", "返回", "back"}
SKIP = {"跳过", "无", "没有", "skip"}
CONFIRM = {"确认", "确定", "是", "好", "ok", "提交"}
DONE = {"完成", "好了", "结束", "写完了", "done"}
_RECORD_NUMBER = re.compile(r"(?:[a-z]{2}-?\d{4}-\d{1,5}|[a-z]{0,2}#?\d{1,10})")  # what buttons send: FK-2026-0001
KEEP = {"保留", "不变", "不改", "保持不变"}
REWRITE = {"重写", "清空", "重新写"}
CONTROL = CANCEL | BACK | SKIP | CONFIRM | DONE | KEEP | REWRITE  # never the text of a free-text step


class Invalid(Exception):
    """The answer does not fit the step; the message is shown and the step asked again."""


Parser = Callable[[str, Incoming, Context, dict[str, Any]], Awaitable[Any]]
Finisher = Callable[[Incoming, Context, dict[str, Any]], Awaitable[Reply]]


@dataclass(frozen=True)
class Step:
    name: str
    prompt: str | Callable[[dict[str, Any]], str]
    parse: Parser
    optional: bool = False  # 跳过 leaves the answer empty
    choices: tuple[str, ...] = ()  # shown numbered; the parser receives the chosen text
    multi: bool = False  # several messages (and attachments) until 完成; the answer is their list
    free_text: bool = False  # the answer is the user's own words: reserved words are refused, not kept
    reserved: frozenset[str] = frozenset()  # more words that are never the text of this step (e.g. 不显示)

    def ask(self, data: dict[str, Any]) -> str:
        text = self.prompt(data) if callable(self.prompt) else self.prompt
        if self.choices:
            text += "\n\n" + "\n".join(f"{i}. {c}" for i, c in enumerate(self.choices, 1))
        kept = data.get(f"_{self.name}") if self.multi else None
        if kept:
            text += ("\n\n已记下的内容：\n\n" + "\n".join(f"- {part}" for part in kept) +
                     "\n\n可以继续发送补充；回复 完成 保留以上内容；回复 重写 清空后重新写。")
        elif f"_prev_{self.name}" in data:
            prev = data[f"_prev_{self.name}"]
            shown = data.get(f"_prev_{self.name}_label") or (prev if isinstance(prev, str) else "")
            if shown:
                text += f"\n\n原来填写的是：{shown}\n直接发送新的内容替换，回复 保留 不变。"
            elif prev in ("", None):
                text += "\n\n原来没有填写。"
        hints = (["可分几条发送，照片、文件也可以，发完回复 完成"] if self.multi and not kept else []) + [
            "发送 上一步 返回", "取消 结束"] + (["跳过 不填"] if self.optional else [])
        return f"{text}\n\n（{'，'.join(hints)}）"

    def is_reserved(self, word: str) -> bool:
        return word in CONTROL or word in self.reserved


@dataclass(frozen=True)
class Flow:
    name: str
    title: str
    steps: tuple[Step, ...]
    summary: Callable[[dict[str, Any]], str]  # shown before 确认
    finish: Finisher
    timeout_minutes: int = 30
    confirm: bool = True  # False: the last answer finishes at once (a one-step dialogue opened by a button)
    # stores the photos/files of a `multi` step: (msg, ctx, data) -> how many were kept
    on_attachment: Callable[[Incoming, Context, dict[str, Any]], Awaitable[int]] | None = None


@dataclass
class Dialogues:
    flows: dict[str, Flow] = field(default_factory=dict)

    def add(self, flow: Flow) -> None:
        self.flows[flow.name] = flow

    async def active(self, ctx: Context, msg: Incoming) -> Dialogue | None:
        async with ctx.db.read() as session:
            row = (await session.exec(select(Dialogue).where(
                Dialogue.user_id == msg.user_id, Dialogue.conversation_id == msg.conversation_id))).first()
        return row

    async def start(self, msg: Incoming, ctx: Context, flow_name: str, data: dict[str, Any] | None = None,
                    note: str = "") -> Reply:
        """Open (or restart) a dialogue and ask its first unanswered step (after `note`, if any)."""
        flow = self.flows[flow_name]
        data = dict(data or {})
        data.setdefault("_history", [])
        step = _first_open_step(flow, data)
        await self._save(ctx, msg, flow, step.name if step else "_confirm", data)
        reply = self._ask(flow, step, data)
        if note:
            reply.data["text"] = Markdown(md_escape(note) + "\n\n" + _as_markdown(reply.data["text"]))
        return reply

    async def handle(self, msg: Incoming, ctx: Context, row: Dialogue) -> Reply:
        flow = self.flows.get(row.flow)
        if flow is None or row.expires_at < ctx.services.clock():
            await self.close(ctx, msg)
            kept = written(flow, json.loads(row.data)) if flow else ""
            text = "上一次的对话已超时结束，没有提交，请重新开始。"
            text += f"\n\n您当时写下的内容：\n{kept}" if kept else ""
            return Reply("message.md.j2", {"text": text}, outcome="expired")
        data = json.loads(row.data)
        word = normalize(msg.text)
        if word in CANCEL:
            await self.close(ctx, msg)
            return Reply("message.md.j2", {"text": f"已取消{flow.title}。"}, outcome="cancelled")
        if word in BACK:
            return await self._back(msg, ctx, flow, data)
        if row.state == "_confirm":
            if word in CONFIRM:
                await self.close(ctx, msg)
                return await flow.finish(msg, ctx, data)
            back = "，上一步 修改" if flow.steps else ""
            said = msg.text.strip()
            unhandled = f"刚才这条“{said[:30]}”没有处理，需要时请之后重新发送。" if said else ""
            text = f"“{flow.title}”还在等您确认：请回复 确认 提交{back}，或 取消 放弃。{unhandled}"
            return Reply("message.md.j2", {"text": text}, outcome="invalid")
        step = next(s for s in flow.steps if s.name == row.state)
        if step.multi:
            return await self._collect(msg, ctx, flow, step, data, word)
        if msg.attachments and not msg.text.strip():
            return Reply("message.md.j2", {"text": "这一步请用文字回答。\n\n" + step.ask(data)}, outcome="invalid")
        if word in KEEP and f"_prev_{step.name}" in data:
            value: Any = data[f"_prev_{step.name}"]
        elif word in SKIP and step.optional:
            value = ""
            data.pop(f"{step.name}_name", None)  # a name kept from an earlier answer no longer applies
        elif step.free_text and (refusal := _not_content(step, word, msg, ctx)):
            return Reply("message.md.j2", {"text": f"{refusal}\n\n{step.ask(data)}"}, outcome="invalid")
        else:
            try:
                value = await step.parse(_choice(step, msg.text), msg, ctx, data)
            except Invalid as e:
                await self._save(ctx, msg, flow, step.name, data)  # a parser may keep choices for the next try
                return Reply("message.md.j2", {"text": f"{e}\n\n{step.ask(data)}"}, outcome="invalid")
        data[step.name] = value
        return await self._next(msg, ctx, flow, step, data)

    async def _next(self, msg: Incoming, ctx: Context, flow: Flow, step: Step, data: dict[str, Any]) -> Reply:
        """`step` is answered: ask the next open one, the confirmation, or finish a flow without one."""
        data.pop(f"_prev_{step.name}", None)
        data.pop(f"_prev_{step.name}_label", None)
        data["_history"].append(step.name)
        nxt = _first_open_step(flow, data)
        if nxt is None and not flow.confirm:
            await self.close(ctx, msg)
            return await flow.finish(msg, ctx, data)
        await self._save(ctx, msg, flow, nxt.name if nxt else "_confirm", data)
        return self._ask(flow, nxt, data)

    async def _collect(self, msg: Incoming, ctx: Context, flow: Flow, step: Step, data: dict[str, Any],
                       word: str) -> Reply:
        """A `multi` step: keep texts and attachments until 完成."""
        parts: list[str] = data.setdefault(f"_{step.name}", [])
        if word in DONE or word in CONFIRM or word in KEEP:
            if not parts and not data.get("_files"):
                return Reply("message.md.j2", {"text": "还没有收到内容。\n\n" + step.ask(data)}, outcome="invalid")
            data[step.name] = await step.parse("\n".join(parts), msg, ctx, data)
            return await self._next(msg, ctx, flow, step, data)
        if word in REWRITE:
            parts.clear()
            await self._save(ctx, msg, flow, step.name, data)
            return Reply("message.md.j2", {"text": "已清空，请重新发送。\n\n" + step.ask(data)})
        if msg.text.strip() and step.free_text and (refusal := _not_content(step, word, msg, ctx)):
            return Reply("message.md.j2", {"text": f"{refusal}\n\n{step.ask(data)}"}, outcome="invalid")
        if msg.attachments:
            kept = await flow.on_attachment(msg, ctx, data) if flow.on_attachment else 0
            note = f"已收到 {kept} 个附件" if kept else "附件没有保存成功，请重新发送"
        else:
            parts.append(msg.text.strip())
            note = f"已记下第 {len(parts)} 段"
        await self._save(ctx, msg, flow, step.name, data)
        return Reply("message.md.j2", {"text": f"{note}。继续发送，或回复 完成。"})

    async def close(self, ctx: Context, msg: Incoming) -> None:
        async with ctx.db.write() as session:
            await session.exec(delete(Dialogue).where(
                col(Dialogue.user_id) == msg.user_id, col(Dialogue.conversation_id) == msg.conversation_id))

    async def _back(self, msg: Incoming, ctx: Context, flow: Flow, data: dict[str, Any]) -> Reply:
        if not data["_history"]:
            step = _first_open_step(flow, data)
            return Reply("message.md.j2", {"text": "已经是第一步了。\n\n" + (step.ask(data) if step else "")})
        last = data["_history"].pop()
        step = next(s for s in flow.steps if s.name == last)
        previous = data.pop(last, None)
        if not step.multi:  # a multi step keeps its parts (`_<name>`) and shows them
            data[f"_prev_{last}"] = previous
            if data.get(f"{last}_name"):  # e.g. the unit step keeps `unit_name`: show the name, not the id
                data[f"_prev_{last}_label"] = data[f"{last}_name"]
        await self._save(ctx, msg, flow, step.name, data)
        return self._ask(flow, step, data)

    def _ask(self, flow: Flow, step: Step | None, data: dict[str, Any]) -> Reply:
        if step is None:
            back = "，上一步 修改" if flow.steps else ""
            text = f"#### 请确认{flow.title}\n\n{flow.summary(data)}\n\n回复 确认 提交{back}，取消 放弃。"
            return Reply("message.md.j2", {"text": Markdown(text)})  # summary() escapes user text
        return Reply("message.md.j2", {"text": step.ask(data)})

    async def _save(self, ctx: Context, msg: Incoming, flow: Flow, state: str, data: dict[str, Any]) -> None:
        now = ctx.services.clock()
        async with ctx.db.write() as session:
            row = (await session.exec(select(Dialogue).where(
                Dialogue.user_id == msg.user_id, Dialogue.conversation_id == msg.conversation_id))).first()
            row = row or Dialogue(user_id=msg.user_id, conversation_id=msg.conversation_id, flow=flow.name,
                                  state=state, expires_at=now)
            row.flow, row.state, row.data = flow.name, state, json.dumps(data, ensure_ascii=False, default=str)
            row.session_webhook = msg.session_webhook[:500]
            row.updated_at, row.expires_at = now, now + timedelta(minutes=flow.timeout_minutes)
            session.add(row)


def unit_step(skip_hint: str = "") -> Parser:
    """A step parser for "which unit?": the shared fuzzy matcher; several matches ask again."""
    from models.staffing.unit_match import match_units

    async def parse(text: str, msg: Incoming, ctx: Context, data: dict[str, Any]) -> int:
        choices = data.pop("_unit_choices", None)
        word = text.strip()
        if choices and word.isdigit() and 1 <= int(word) <= len(choices):  # the answer to "which one?"
            unit_id, name = choices[int(word) - 1]
            data["unit_name"] = name
            return int(unit_id)
        async with ctx.db.read() as session:
            units = await match_units(session, text)
        if len(units) == 1:
            data["unit_name"] = units[0].name
            return int(units[0].id or 0)
        if not units:
            raise Invalid(f"没有找到单位“{text}”，请写单位全称或常用简称{skip_hint}。")
        data["_unit_choices"] = [(u.id, u.name) for u in units]
        listed = "\n".join(f"{i}. {u.name}" for i, u in enumerate(units, 1))
        raise Invalid(f"“{text}”对应多个单位，请回复序号选择：\n{listed}")

    return parse


def written(flow: Flow, data: dict[str, Any]) -> str:
    """The user's own words in an unfinished dialogue (its free-text answers), to hand back when it ends
    unsubmitted, so that nothing typed is lost."""
    parts: list[str] = []
    for step in flow.steps:
        if step.multi:
            parts += [str(p) for p in data.get(f"_{step.name}") or []]
        elif step.free_text and isinstance(data.get(step.name), str) and data[step.name]:
            parts.append(data[step.name])
    return "\n".join(parts)


def _not_content(step: Step, word: str, msg: Incoming, ctx: Context) -> str:
    """Why a free-text answer is not taken as content (a reserved word, a bare command), or ""."""
    text = msg.text.strip()
    if step.is_reserved(word):
        return f"“{text}”是操作用语，没有记为内容。"
    match = ctx.services.router.match(text)
    if match is not None and (not match.args or _RECORD_NUMBER.fullmatch(match.args)):  # `帮助`, a button's text
        return f"“{text}”是一条命令，没有记为内容。要使用它，请先回复 取消 结束这次填写。"
    return ""


def _as_markdown(text: Any) -> str:
    return text if isinstance(text, Markdown) else md_escape(str(text))


def _first_open_step(flow: Flow, data: dict[str, Any]) -> Step | None:
    return next((s for s in flow.steps if s.name not in data), None)


def _choice(step: Step, text: str) -> str:
    """A numbered answer (`2`, `２`) becomes the choice's text."""
    word = normalize(text)
    if step.choices and word.isdigit() and 1 <= int(word) <= len(step.choices):
        return step.choices[int(word) - 1]
    return text.strip()
