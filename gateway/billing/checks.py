"""Checks before any effect (docs/architecture.md, "Checks"): receiver, environment,
amount and currency. Each returns None when fine, or a sentence saying what did not match."""

from __future__ import annotations

from decimal import Decimal

from .interpretation import Money, Receiver


def check_receiver(receiver: Receiver | None, business: str, receiver_id: str) -> str | None:
    """The message must name our account (by e-mail or merchant id)."""
    if receiver is None:  # the channel's verification proves it (signed webhooks)
        return None
    ours = {business.strip().lower()} - {""}
    if any(e.strip().lower() in ours for e in receiver.emails):
        return None
    if receiver_id and receiver.account_id == receiver_id:
        return None
    return (
        f"receiver is not us: e-mails {', '.join(repr(e) for e in receiver.emails)}, "
        f"account id {receiver.account_id!r}"
    )


def check_sandbox(is_test: bool | None, accepts_test: bool) -> str | None:
    """A sandbox message must never reach a live site."""
    if is_test and not accepts_test:
        return "a sandbox message (test_ipn=1) reached the live site"
    return None


def check_amount(money: Money | None, price: Decimal, currency: str, plan_code: str) -> str | None:
    """A payment must be the plan's price in the plan's currency (tax aside)."""
    if money is None:
        return f"the payment names no amount (plan {plan_code}: {price} {currency})"
    if money.currency != currency:
        return f"currency {money.currency or 'none'} does not match plan {plan_code} ({currency})"
    if money.gross is None or money.gross - money.tax != price:
        return (
            f"amount {money.gross} {money.currency} (tax {money.tax}) does not match plan "
            f"{plan_code} ({price} {currency})"
        )
    return None
