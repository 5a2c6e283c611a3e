"""The working-day calendar: the holidays import."""
