"""Refunds: the exactly-once service, the admin's refund page, and the job that settles
unanswered ones.
"""
