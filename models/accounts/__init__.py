"""Accounts: who may use the bot (accounts, binding requests) and their roles."""
