"""The access rules, pure: facts, plan terms and policy in; a subscription's state and
access_until out.
"""
