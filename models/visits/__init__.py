"""下沉式走访: groups, rosters, the planner, records and draws."""
