"""Checks before any effect (DESIGN.md rule 5): receiver, sandbox, plan, amount, currency.
Each returns None when fine, or a sentence saying what did not match."""
from __future__ import annotations

from decimal import Decimal
from typing import Optional

from .ipn import IpnMessage


def check_receiver(msg: IpnMessage, business: str, receiver_id: str) -> Optional[str]:
    ours = {business.strip().lower()} - {""}
    if msg.get("receiver_email").lower() in ours or msg.get("business").lower() in ours:
        return None
    if receiver_id and msg.get("receiver_id") == receiver_id:
        return None
    return (f"receiver is not us: receiver_email={msg.get('receiver_email')!r}, "
            f"business={msg.get('business')!r}, receiver_id={msg.get('receiver_id')!r}")


def check_sandbox(msg: IpnMessage, accepts_test: bool) -> Optional[str]:
    if msg.is_test and not accepts_test:
        return "a sandbox message (test_ipn=1) reached the live site"
    return None


def check_amount(msg: IpnMessage, price: Decimal, currency: str, plan_code: str) -> Optional[str]:
    """A payment must be the plan's price in the plan's currency (tax aside)."""
    gross = msg.gross
    if msg.currency != currency:
        return (f"currency {msg.currency or 'none'} does not match plan {plan_code} "
                f"({currency})")
    if gross is None or gross - msg.tax != price:
        return (f"amount {gross} {msg.currency} (tax {msg.tax}) does not match plan "
                f"{plan_code} ({price} {currency})")
    return None
