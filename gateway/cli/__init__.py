"""The command line: `flask --app app ...` — demo and admin set-up, the inbox, rebuild,
jobs, and PayPal reconciliation.
"""
