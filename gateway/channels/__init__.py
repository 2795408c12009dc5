"""The channels PayPal's messages arrive by, side by side: each supplies verify and
interpret (the seam: `seam.py`).
"""
