"""Planning the calls for one claimed batch of outbox rows: merging and batching.

Two rules shape a batch into DingTalk calls (bot/outbox.py sends them):
1. **Merge per person.** Rows for the same `user:` recipient with `mergeable=True` (text or
   markdown only) become ONE sampleMarkdown message, title "您有N条提醒", the rows' texts in id
   order joined by a horizontal rule. A merged message is one `Unit`: it is sent, retried or
   declared dead as a whole, so its rows share one outcome and one `next_attempt_at` (and are
   therefore claimed, and merged, together again). A lone mergeable row goes out unchanged.
2. **Batch identical 1:1 messages.** Units with the same msgKey and msgParam for different users
   go out as one batchSend of ≤ 20 users; group messages go alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from bot.dingtalk_api import BATCH_LIMIT

MERGE_RULE = "\n\n---\n\n"
MERGEABLE_KEYS = ("sampleText", "sampleMarkdown")  # buttons or media cannot be merged into one text
MERGE_MAX_CHARS = 5000  # a longer merge is split: keeps msgParam far below DingTalk's ~15 KB limit


@dataclass(frozen=True)
class Claimed:
    id: int
    fence: int
    attempts: int
    kind: str
    recipient: str
    msg_key: str
    payload: str
    expires_at: datetime | None
    mergeable: bool = False
    was_unknown: bool = False  # its last send got no answer (a resend the metrics count)


@dataclass(frozen=True)
class Unit:
    """One message to one recipient: a single row, or several rows merged into one text."""

    rows: tuple[Claimed, ...]
    msg_key: str
    payload: str

    @property
    def recipient(self) -> str:
        return self.rows[0].recipient

    @property
    def head(self) -> Claimed:
        return self.rows[0]

    @property
    def attempts(self) -> int:
        return max(r.attempts for r in self.rows)

    @property
    def merged(self) -> bool:
        return len(self.rows) > 1


def payload_text(payload: str) -> str:
    data = json.loads(payload)
    return str(data.get("text") or data.get("content") or "")


def merge(rows: list[Claimed]) -> Unit:
    """The sampleMarkdown message for several reminders to one person (rows in id order)."""
    if len(rows) == 1:
        return Unit((rows[0],), rows[0].msg_key, rows[0].payload)
    text = MERGE_RULE.join(payload_text(r.payload) for r in rows)
    param = {"title": f"您有{len(rows)}条提醒", "text": text}
    return Unit(tuple(rows), "sampleMarkdown", json.dumps(param, ensure_ascii=False, sort_keys=True))


def _can_merge(row: Claimed) -> bool:
    return row.mergeable and row.recipient.startswith("user:") and row.msg_key in MERGEABLE_KEYS


def units(rows: list[Claimed]) -> list[Unit]:
    """Merge each person's mergeable rows; every other row is a unit of its own. Ordered by first id."""
    out: list[Unit] = []
    pending: dict[str, list[Claimed]] = {}
    for row in sorted(rows, key=lambda r: r.id):
        if _can_merge(row):
            pending.setdefault(row.recipient, []).append(row)
        else:
            out.append(merge([row]))
    for person_rows in pending.values():
        chunk: list[Claimed] = []
        size = 0
        for row in person_rows:
            length = len(payload_text(row.payload)) + len(MERGE_RULE)
            if chunk and size + length > MERGE_MAX_CHARS:
                out.append(merge(chunk))
                chunk, size = [], 0
            chunk.append(row)
            size += length
        out.append(merge(chunk))
    out.sort(key=lambda u: u.head.id)
    return out


def plan(rows: list[Claimed]) -> list[list[Unit]]:
    """The calls for a claimed batch: each is one group send, or one batchSend of ≤ 20 users."""
    groups: dict[tuple[str, str], list[Unit]] = {}
    out: list[list[Unit]] = []
    for unit in units(rows):
        if unit.recipient.startswith("group:"):
            out.append([unit])
            continue
        bucket = groups.setdefault((unit.msg_key, unit.payload), [])
        if len(bucket) == BATCH_LIMIT or any(u.recipient == unit.recipient for u in bucket):
            out.append(bucket[:])
            bucket.clear()
        bucket.append(unit)
    out.extend(b for b in groups.values() if b)
    return out
