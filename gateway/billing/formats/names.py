"""The payer's name as PayPal reports it, for receipts (never used to match anyone)."""

from __future__ import annotations

#: The `payments.payer_name` column's length.
MAX_NAME = 200


def payer_name(given: str, surname: str, business: str = "") -> str:
    """A business name wins when PayPal gives one; else "given surname"; "" when none."""
    business = " ".join(business.split())
    if business:
        return business[:MAX_NAME]
    return " ".join(" ".join((given, surname)).split())[:MAX_NAME]
