"""What a handler receives and returns: plain data that imports nothing of the project.

`Incoming` is one message from DingTalk (or the emulator), normalised; a handler answers with a
`Reply` (a template and its data, optional `Button`s); the runtime renders and sends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Attachment:
    kind: str  # picture / file / audio / video
    download_code: str
    file_name: str = ""


@dataclass(frozen=True)
class Incoming:
    """One message from DingTalk, normalised for the router."""

    msg_id: str
    user_id: str  # senderStaffId, the enterprise userId
    nick: str
    text: str  # the text as typed (the router normalises it)
    conversation_type: str  # "1" single chat, "2" group
    conversation_id: str
    session_webhook: str
    msgtype: str = "text"
    attachments: tuple[Attachment, ...] = ()

    @property
    def is_group(self) -> bool:
        return self.conversation_type == "2"


@dataclass(frozen=True)
class Button:
    title: str  # at most 20 characters (DingTalk)
    command: str  # the text the user's client sends when tapped
    url: str = ""  # a link to open instead (e.g. the 监督看板 page)


@dataclass
class Reply:
    """A handler's answer: a template and its data; the runtime renders and sends it."""

    template: str
    data: dict[str, Any] = field(default_factory=dict)
    buttons: list[Button] = field(default_factory=list)
    outcome: str = "ok"  # audit outcome: ok / denied / invalid / not_found
