"""Staffing base data: the units and persons imports."""
