"""Admin pages: subscriptions, members, plans, payments, PayPal messages and flags."""
