"""Accounts: register, log in, log out, change password, and login throttling."""
