"""Persistence: tables, repositories (all SQL lives here) and migrations."""
