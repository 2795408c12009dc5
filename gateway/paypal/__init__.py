"""Talking to PayPal: its server-to-server endpoints, the IPN channel, the postback."""
