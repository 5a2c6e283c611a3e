"""下沉式走访: plans, records, draws, exports, the groups import."""
