"""Member pages: home, plans, my subscriptions, the gated areas, and checkout."""
