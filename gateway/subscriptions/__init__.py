"""Subscriptions in the database: the service that stores facts and recomputes, the admin's
manual actions, the gate's queries and the helpers that put a state into words."""
