"""The peer for bench/progress.py: the bot the dingtalk-stream SDK's README teaches, answering `进度 <编号>`.

A `ChatbotHandler` whose `process` reads the same database (sqlite3, as a sample would) and answers
with the SDK's own `reply_markdown` (a blocking `requests.post` to the sessionWebhook), registered
on a `DingTalkStreamClient` and run with `start_forever()`. Nothing here is tuned: it is the
baseline anyone can rerun.

Run: python bench/sdk_peer.py --endpoint http://127.0.0.1:PORT --db path/to/bianban.db \
         --client-id ID --client-secret SECRET
"""

from __future__ import annotations

import argparse
import logging
import sqlite3

import dingtalk_stream
from dingtalk_stream import AckMessage


class ProgressHandler(dingtalk_stream.ChatbotHandler):
    def __init__(self, db: sqlite3.Connection, logger: logging.Logger | None = None) -> None:
        super(dingtalk_stream.ChatbotHandler, self).__init__()
        self.db = db
        if logger:
            self.logger = logger

    async def process(self, callback: dingtalk_stream.CallbackMessage):  # type: ignore[no-untyped-def]
        incoming_message = dingtalk_stream.ChatbotMessage.from_dict(callback.data)
        text = incoming_message.text.content.strip()
        number = text.removeprefix("进度").strip()
        account = self.db.execute("SELECT unit_id FROM account WHERE user_id = ?",
                                  (incoming_message.sender_staff_id,)).fetchone()
        item = self.db.execute(
            "SELECT i.id, i.number, i.title, i.type, i.stage, i.status, i.handler_name, i.submitted_at, u.name,"
            " i.unit_id FROM approvalitem i JOIN unit u ON u.id = i.unit_id WHERE i.number = ?", (number,)).fetchone()
        if item is None or account is None or account[0] != item[9]:
            self.reply_markdown("审批进度", f"没有找到事项“{number}”。", incoming_message)
            return AckMessage.STATUS_OK, "OK"
        events = self.db.execute("SELECT at, kind, stage, status FROM approvalevent WHERE item_id = ? ORDER BY id",
                                 (item[0],)).fetchall()
        lines = [f"#### {item[1]} {item[2]}", f"- 单位：{item[8]}", f"- 类型：{item[3]}",
                 f"- 当前环节：{item[4]}（{item[5]}）", f"- 经办人：{item[6]}", f"- 提交：{item[7]}"]
        lines += [f"- {at} {kind} {stage} {status}" for at, kind, stage, status in events]
        self.reply_markdown("审批进度", "\n".join(lines), incoming_message)
        return AckMessage.STATUS_OK, "OK"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    dingtalk_stream.DingTalkStreamClient.OPEN_CONNECTION_API = options.endpoint + "/v1.0/gateway/connections/open"
    db = sqlite3.connect(options.db, check_same_thread=False)
    credential = dingtalk_stream.Credential(options.client_id, options.client_secret)
    client = dingtalk_stream.DingTalkStreamClient(credential)
    client.register_callback_handler(dingtalk_stream.chatbot.ChatbotMessage.TOPIC, ProgressHandler(db))
    client.start_forever()


if __name__ == "__main__":
    main()
