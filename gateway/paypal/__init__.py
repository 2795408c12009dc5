"""Talking to PayPal: its REST API client, the IPN postback, webhook certificates and
signatures, and its URLs by mode. (PayPal's requests to us arrive at
gateway/pipeline/endpoints.py.)
"""
