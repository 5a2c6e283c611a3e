"""预警: the set-based rules over 实名制 data."""
