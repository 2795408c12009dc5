"""Checkout: the journal of open attempts, the Standard button and the REST subscription,
and the member's pages from "Subscribe" to the return from PayPal (templates in
templates/checkout/).
"""
