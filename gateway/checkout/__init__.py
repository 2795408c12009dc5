"""Checkout: the journal of open attempts, the Standard button and the REST subscription,
the member's pages from "Subscribe" to the return from PayPal (templates in
templates/checkout/), asking PayPal's API what became of a subscription, and cancelling a
REST subscription there.
"""
