"""Reconciliation: compare what we recorded with what PayPal did, flag every difference.

PayPal's side comes from Transaction Search and the Subscriptions API (`run.py`, the
daily `reconcile` job and `flask paypal reconcile`) or from an Activity CSV an admin
uploads (`importing.py`, `flask paypal import-activity`). Both feed the same pure
comparison (`gateway/billing/formats/reconcile.py`; subscriptions:
`reconcile_subscriptions.py`) batch by batch through a `Session`, which raises one flag
per difference (keyed, so a difference found again is not flagged again) and stores a
payment PayPal has and we don't as a `csv` message for the inbox, so the member gets
what they paid for. Nothing else is changed.
"""
