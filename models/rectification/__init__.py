"""整改: problems, their state changes, deadlines, lights and the reminder ladder."""
