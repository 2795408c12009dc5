"""The channel-neutral inbox: PayPal's endpoints store raw, then claim with leases, verify,
interpret, apply.

A channel (IPN, webhooks, our own API calls, CSV rows) is two functions, *verify* and
*interpret*; nothing downstream of interpret knows which channel a fact came from.
See docs/architecture.md, "A message from bytes to access_until".
"""
