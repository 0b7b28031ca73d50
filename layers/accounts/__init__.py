"""Accounts, roles, sessions, tokens, share links and the audit log, and the tables that hold them."""
