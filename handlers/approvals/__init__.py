"""审批进度: commands, statistics, and the inbound channels (import, HTTP API, OA events)."""
