"""Checks before any effect (docs/architecture.md, "Checks"): receiver, environment,
amount and currency. Each returns None when fine, or a sentence saying what did not match."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal

from .interpretation import Money, Receiver


def check_receiver(
    receiver: Receiver | None, emails: Collection[str], account_ids: Collection[str]
) -> str | None:
    """The message must name one of our accounts, by e-mail (any case) or merchant id.

    Several of each: merchants change their primary e-mail, and old subscriptions keep
    paying to the old one.
    """
    if receiver is None:  # the channel's verification proves it (signed webhooks)
        return None
    ours = {e.strip().lower() for e in emails} - {""}
    if any(e.strip().lower() in ours for e in receiver.emails):
        return None
    if receiver.account_id and receiver.account_id in {i.strip() for i in account_ids}:
        return None
    return (
        f"receiver is not us: e-mails {', '.join(repr(e) for e in receiver.emails)}, "
        f"account id {receiver.account_id!r}"
    )


def check_environment(is_test: bool | None, mode: str) -> str | None:
    """Sandbox messages only on a sandbox (or stand-in) site; live ones never on a sandbox site.

    `mode` is the site's PAYPAL_MODE: live, sandbox or sim (the stand-in plays either).
    `is_test` None: the channel has no such marker (its verification settles it).
    """
    if is_test is None or mode == "sim":
        return None
    if is_test and mode == "live":
        return "a sandbox message (test_ipn=1) reached the live site"
    if not is_test and mode == "sandbox":
        return "a live message (no test_ipn) reached the sandbox site"
    return None


def check_amount(
    money: Money | None, expected: Collection[Decimal], currency: str, terms: str
) -> str | None:
    """A payment must be what the subscription's own terms charge (tax aside).

    `terms` describes those terms for the sentence an admin reads.
    """
    if money is None:
        return f"the payment names no amount (terms: {terms})"
    if money.currency != currency:
        return f"currency {money.currency or 'none'} does not match the terms ({terms})"
    if money.gross is None or money.gross - money.tax not in expected:
        return (
            f"amount {money.gross} {money.currency} (tax {money.tax}) does not match the "
            f"terms ({terms})"
        )
    return None
