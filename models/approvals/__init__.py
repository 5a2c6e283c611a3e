"""审批进度: items, events, sync rules and statistics."""
