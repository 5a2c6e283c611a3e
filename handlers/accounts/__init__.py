"""Accounts: 帮助, 我是谁, binding; the units and accounts imports."""
