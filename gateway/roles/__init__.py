"""Roles (tiers) as data: the service, the admin page and `flask roles`."""
