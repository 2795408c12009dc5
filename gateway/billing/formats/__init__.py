"""PayPal's formats, pure: IPN bodies, webhook events, API answers, reports and the
Activity CSV read into interpretations and reported transactions.
"""
