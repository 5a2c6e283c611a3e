"""Templates: jinja2, with every `{{ value }}` made markdown-safe unless it is marked `Markdown`.

DingTalk renders a small markdown dialect; a unit name or a user's text containing `*`, `#` or
`[` must not change the layout, so `finalize` escapes every expression by default (trusted
fragments are wrapped in `Markdown`). The runtime's own templates live in bot/templates/; each
capability has its own folder, which the composition root adds to TEMPLATE_DIRS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.messages import Button

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE_DIRS: list[Path] = [TEMPLATES]  # the composition root appends each capability's folder
_ESCAPES = str.maketrans({
    "*": "＊", "_": "＿", "#": "＃", "[": "［", "]": "］", "`": "｀", "|": "｜", ">": "＞", "<": "＜",
    "\\": "＼", "~": "～",
})


class Markdown(str):
    """Text that is already markdown and must not be escaped."""


def md_escape(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Markdown):
        return value
    text = str(value)
    return text.translate(_ESCAPES).replace("\r", "")


def md_code(value: Any) -> Markdown:
    """An identifier shown exactly as it is (a DingTalk userId like `jyj_ll`): inline code, so that
    markdown cannot change it and nothing needs escaping inside."""
    return Markdown("`" + str(value or "").replace("`", "'").replace("\n", " ") + "`")


def dtmd_link(command: str) -> str:
    """A button URL that makes the user's own client send `command` into the chat."""
    return "dtmd://dingtalkclient/sendMessage?content=" + quote(command, safe="")


class Renderer:
    def __init__(self, directories: list[Path] | None = None) -> None:
        self.env = Environment(
            loader=FileSystemLoader([str(d) for d in (directories or TEMPLATE_DIRS)]), undefined=StrictUndefined,
            autoescape=False, finalize=md_escape, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
        )
        self.env.filters["md"] = md_escape
        self.env.filters["code"] = md_code

    def render(self, template: str, data: dict[str, Any]) -> str:
        text = self.env.get_template(template).render(**data)
        return "\n".join(line.rstrip() for line in text.strip().splitlines())


def title_of(text: str, fallback: str = "编办监督助手") -> str:
    """The notification title: the first line without markdown marks."""
    first = next((line for line in text.splitlines() if line.strip()), fallback)
    return first.lstrip("#").strip()[:30] or fallback


def webhook_body(text: str, buttons: list[Button] | None = None, *, markdown: bool = True) -> dict[str, Any]:
    """A sessionWebhook body: markdown, or an ActionCard when there are buttons."""
    title = title_of(text)
    if buttons:
        return {
            "msgtype": "actionCard",
            "actionCard": {
                "title": title, "text": text, "btnOrientation": "0",
                "btns": [{"title": b.title[:20], "actionURL": b.url or dtmd_link(b.command)} for b in buttons],
            },
        }
    if markdown:
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    return {"msgtype": "text", "text": {"content": text}}


def robot_message(text: str, buttons: list[Button] | None = None) -> tuple[str, dict[str, Any]]:
    """(msgKey, msgParam) for a proactive robot message: markdown or an ActionCard with ≤ 5 buttons."""
    title = title_of(text)
    if not buttons:
        return "sampleMarkdown", {"title": title, "text": text}
    buttons = buttons[:5]
    if len(buttons) == 1:
        b = buttons[0]
        return "sampleActionCard", {"title": title, "text": text, "singleTitle": b.title[:20],
                                    "singleURL": b.url or dtmd_link(b.command)}
    param: dict[str, Any] = {"title": title, "text": text}
    for i, b in enumerate(buttons, 1):
        param[f"actionTitle{i}"] = b.title[:20]
        param[f"actionURL{i}"] = b.url or dtmd_link(b.command)
    return f"sampleActionCard{len(buttons)}", param
