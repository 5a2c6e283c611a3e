"""DingTalk OA approval events (钉钉审批) → approval items, through the Stream EVENT subscription.

Only process codes listed in `[approvals] process_codes` are tracked (each maps to a business
type); the subscription is made only when that table is non-empty. An event is acked at once
with the status object the protocol asks for (`{"status": "SUCCESS"}`, where the SDK would
echo the data) and handled in a background task the StreamClient tracks:
1. events of other process codes are ignored;
2. an eventId already in ProcessedEvent is a redelivery and is dropped (DingTalk may deliver an
   event more than once);
3. the instance is fetched with `GET /v1.0/workflow/processInstances` (the event alone lacks the
   stage and the handler), so events arriving out of order still store the latest state;
4. in one transaction the eventId is inserted (on conflict: nothing more is done) and the item
   goes through handlers.approvals.sync.apply_items with source "oa", as file and HTTP items do. A
   crash before the commit leaves the eventId unrecorded, so a redelivery processes it.

Mapping: 事项编号 = businessId (the 审批编号 users see) or else processInstanceId; 所属单位 = the
originator's account's unit (an originator without an account or a unit is logged and the event
skipped); 当前环节 = the node of the running task (its name when DingTalk gives one, or the showName
of an operation record of the same activityId, as after a 退回 to an earlier node), else 审批中 (the
latest record names the node just left, not the current one), and 办结 / 退回 / 撤回 once the
instance has ended;
当前经办人 = the running task's user (the first one when several approve in parallel); 状态:
RUNNING → 办理中, COMPLETED + agree → 已办结, COMPLETED + refuse → 已退回, TERMINATED → 已撤回.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dingtalk_stream import AckMessage, EventHandler, EventMessage
from dingtalk_stream.frames import Headers
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.context import Services
from bot.dingtalk_api import DingTalkAPI, DingTalkError
from bot.stream import StreamClient
from handlers.approvals.sync import apply_items
from models.approvals.ops import ItemData, claim_event
from models.approvals.queries import active_account, event_seen
from models.approvals.tables import DONE, IN_PROGRESS, RETURNED, WITHDRAWN
from models.base import LOCAL_TZ

log = logging.getLogger(__name__)

EVENT_TYPES = ("bpms_instance_change", "bpms_task_change")
ACK_DATA = {"status": "SUCCESS", "message": "OK"}
FETCH_ATTEMPTS = 3
ENDED_STAGE = {DONE: "办结", RETURNED: "退回", WITHDRAWN: "撤回"}
PENDING_STAGE = "审批中"


def register_oa_events(stream: StreamClient, services: Services, api: DingTalkAPI, *,
                       nudge: Callable[[], None] | None = None) -> OASync | None:
    """Subscribe to EVENT frames when `[approvals] process_codes` lists any process."""
    codes = dict(services.config.approvals.process_codes)
    if not codes:
        return None
    sync = OASync(services, api, codes, nudge=nudge)
    stream.register_all_event_handler(OAEventHandler(stream, sync))
    return sync


class OAEventHandler(EventHandler):
    """Acks every event frame with `{"status": "SUCCESS"}` at once; OA events are handled in the background."""

    def __init__(self, client: StreamClient, sync: OASync) -> None:
        super().__init__()
        self._client = client
        self._sync = sync

    async def raw_process(self, event_message: EventMessage) -> AckMessage:
        headers = event_message.headers
        if headers.event_type in EVENT_TYPES and isinstance(event_message.data, dict):
            event_id = str(headers.event_id or headers.message_id or "")
            self._client.spawn(self._sync.handle(headers.event_type, event_id, event_message.data))
        ack = AckMessage()
        ack.code = AckMessage.STATUS_OK
        ack.headers.message_id = headers.message_id
        ack.headers.content_type = Headers.CONTENT_TYPE_APPLICATION_JSON
        ack.message = "OK"
        ack.data = dict(ACK_DATA)
        return ack


class OASync:
    """Turns one OA event into an upsert of its approval item (see the module docstring)."""

    def __init__(self, services: Services, api: DingTalkAPI, process_codes: dict[str, str], *,
                 nudge: Callable[[], None] | None = None, retry_delay: float = 2.0) -> None:
        self.services, self.api, self.process_codes = services, api, process_codes
        self.nudge, self.retry_delay = nudge, retry_delay

    async def handle(self, event_type: str, event_id: str, data: dict[str, Any]) -> str:
        """ignored / invalid / duplicate / failed / skipped / applied (for logs and tests)."""
        code = str(data.get("processCode") or "")
        kind = self.process_codes.get(code)
        if kind is None:
            log.debug("OA event %s of process %r is not in [approvals] process_codes: ignored", event_id, code)
            return "ignored"
        instance_id = str(data.get("processInstanceId") or "")
        if not instance_id or not event_id:
            log.warning("OA event %s (%s) without processInstanceId or eventId: ignored", event_id, event_type)
            return "invalid"
        db = self.services.db
        async with db.read() as session:
            if await event_seen(session, event_id=event_id):
                log.info("OA event %s was already processed", event_id)
                return "duplicate"
        instance = await self._fetch(instance_id)
        if instance is None:
            return "failed"
        cal = await self.services.calendar()
        async with db.write() as session:
            if not await claim_event(session, event_id=event_id, event_type=event_type):
                return "duplicate"
            now = self.services.clock()
            item = await instance_item(session, instance_id, instance, kind, now)
            if item is None:
                return "skipped"
            result = await apply_items(session, [item], source="oa", cal=cal, renderer=self.services.renderer,
                                       rules=self.services.rules, now=now)
        log.info("OA event %s (%s): item %s %s", event_id, event_type, item.number,
                 "added" if result.added else "updated" if result.updated else "unchanged")
        if result.notified and self.nudge:
            self.nudge()
        return "applied"

    async def _fetch(self, instance_id: str) -> dict[str, Any] | None:
        for attempt in range(1, FETCH_ATTEMPTS + 1):
            try:
                return await self.api.process_instance(instance_id)
            except DingTalkError as exc:
                if not exc.retryable or attempt == FETCH_ATTEMPTS:
                    log.error("OA instance %s could not be fetched: %s", instance_id, exc)
                    return None
                await asyncio.sleep(exc.retry_after or self.retry_delay * 2 ** (attempt - 1))
        return None


async def instance_item(session: AsyncSession, instance_id: str, instance: dict[str, Any], kind: str,
                        now: datetime) -> ItemData | None:
    """The approval item an OA instance stands for; None (logged) when its originator has no unit."""
    originator = str(instance.get("originatorUserId") or "")
    account = await active_account(session, user_id=originator)
    if account is None or account.unit_id is None:
        log.warning("OA instance %s skipped: originator %r has no account with a unit", instance_id, originator)
        return None
    status = _status(instance)
    running = [t for t in instance.get("tasks") or [] if str(t.get("status", "")).upper() == "RUNNING"]
    handler_id = str(running[0].get("userId") or "") if running else ""
    handler = await active_account(session, user_id=handler_id) if handler_id else None
    submitted = _moment(instance.get("createTime")) or now
    completed = (_moment(instance.get("finishTime")) or now) if status == DONE else None
    return ItemData(
        number=str(instance.get("businessId") or instance_id)[:64], unit_id=account.unit_id, type=kind,
        title=str(instance.get("title") or "")[:200], submitted_at=submitted,
        stage=_stage(instance, running, status)[:40], status=status, handler_user_id=handler_id[:64],
        handler_name=(handler.name if handler else "")[:50],
        completed_at=max(completed, submitted) if completed else None,
    )


def _status(instance: dict[str, Any]) -> str:
    status = str(instance.get("status") or "").upper()
    if status == "COMPLETED":
        return RETURNED if str(instance.get("result") or "").lower() == "refuse" else DONE
    if status in ("TERMINATED", "CANCELED"):
        return WITHDRAWN
    return IN_PROGRESS


def _stage(instance: dict[str, Any], running: list[dict[str, Any]], status: str) -> str:
    if status in ENDED_STAGE:
        return ENDED_STAGE[status]
    if not running:
        return PENDING_STAGE
    task = running[0]
    records = [r for r in instance.get("operationRecords") or [] if isinstance(r, dict)]
    named = [r.get("showName") for r in records if task.get("activityId") and r.get("activityId") == task["activityId"]]
    return str(task.get("activityName") or task.get("showName") or next((n for n in reversed(named) if n), "")
               or PENDING_STAGE)


def _moment(value: Any) -> datetime | None:
    """DingTalk times: `2026-10-19T01:00Z` (UTC), other ISO 8601 forms, or epoch milliseconds."""
    if value in (None, ""):
        return None
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        moment = datetime.fromisoformat(str(value))
    except (ValueError, OverflowError, OSError):
        log.warning("unreadable OA time %r", value)
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)
