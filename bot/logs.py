"""Structured logs (`[logging] format = "json"`): one JSON object per line.

Each line carries the time, level, logger and message, and the message id and user id of the
message being handled (set by the dispatcher in a context variable, so that every log line of
one message's handling has them). Secrets are removed before formatting by cli.RedactSecrets.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

CURRENT_MESSAGE: ContextVar[tuple[str, str] | None] = ContextVar("current_message", default=None)
EXTRA_FIELDS = ("msg_id", "user_id", "command", "outcome", "ms")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = CURRENT_MESSAGE.get()
        if current is not None:
            entry["msg_id"], entry["user_id"] = current
        for key in EXTRA_FIELDS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
