"""Offers: a hidden plan reachable only through its own link (/offer/<code>), counted."""
