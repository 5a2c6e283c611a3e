"""监管评价: scoring every unit, tiers, consequences, the 异常名录 and the 三张清单."""
