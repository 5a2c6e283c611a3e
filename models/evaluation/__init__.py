"""监管评价: indicators, scores, tiers, consequences, the 异常名录 rules and the 三张清单."""
