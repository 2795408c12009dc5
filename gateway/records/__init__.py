"""What the system keeps for people to read later: flags that hand a decision to an admin,
and the append-only audit log of every admin change to access."""
