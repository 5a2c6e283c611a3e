"""预警: commands."""
