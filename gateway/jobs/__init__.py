"""Scheduled jobs: defined as data (`registry`), guarded by a database lease (`lease`), run
by APScheduler in a process of their own or beside the demo server (`runner`)."""
