"""The working-day calendar (chinesecalendar plus imported overrides)."""
