"""Staffing base data (机构编制): units, 实名制 persons, unit matching, retirement rules."""
