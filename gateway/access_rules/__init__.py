"""Access rules for URLs, pure (no Flask, no database, no HTTP): which paths are public,
for any logged-in member, or for holders of some roles; and the one canonical form of a
path that every rule is matched against (`paths.py`, `table.py`)."""
