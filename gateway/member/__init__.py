"""Member pages: home, plans, my subscriptions and receipts."""
