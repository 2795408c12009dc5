"""Money going back to the buyer, or returning: refunds, reversals, cancelled reversals."""

from __future__ import annotations

from decimal import Decimal

from . import ipn_messages as ipn
from . import webhooks as wh
from .formats import new_id
from .notices import Notices
from .state import Refused, Transaction


class MoneyBack(Notices):
    """Transactions against an earlier payment, each announced like PayPal does."""

    def refund(self, payment: Transaction, amount: Decimal | None = None) -> Transaction:
        if payment.kind != "payment":
            raise Refused("only payments can be refunded")
        if payment.status == "Reversed":
            raise Refused("a reversed payment cannot be refunded")
        already = -sum(
            (
                t.amount
                for t in self.world.transactions.values()
                if t.parent_id == payment.id and t.kind == "refund"
            ),
            Decimal(0),
        )
        amount = payment.amount - already if amount is None else amount
        if amount <= 0 or already + amount > payment.amount:
            raise Refused(f"refund of {amount} exceeds the {payment.amount - already} left")
        full = already + amount == payment.amount
        return self._money_back(
            payment,
            "refund",
            "Refunded",
            -amount,
            "Refunded" if full else "Partially_Refunded",
            "PAYMENT.SALE.REFUNDED",
        )

    def reverse(self, payment: Transaction) -> Transaction:
        if payment.kind != "payment" or payment.status not in ("Completed", "Partially_Refunded"):
            raise Refused(f"payment is {payment.status}")
        return self._money_back(
            payment, "reversal", "Reversed", -payment.amount, "Reversed", "PAYMENT.SALE.REVERSED"
        )

    def cancel_reversal(self, payment: Transaction) -> Transaction:
        if payment.status != "Reversed":
            raise Refused("payment is not reversed")
        return self._money_back(
            payment, "reversal_cancel", "Canceled_Reversal", payment.amount, "Completed", None
        )

    def _money_back(
        self,
        payment: Transaction,
        kind: str,
        status: str,
        amount: Decimal,
        parent_status: str,
        event_type: str | None,
    ) -> Transaction:
        sub = self.world.subscription(payment.subscription_id)
        now = self.clock.now()
        fee = Decimal(0) if kind != "reversal" else Decimal("20.00")
        txn = Transaction(
            id=new_id(),
            subscription_id=sub.id,
            kind=kind,
            status=status,
            amount=amount,
            currency=payment.currency,
            fee=fee,
            time=now,
            parent_id=payment.id,
            custom=payment.custom,
            item_name=payment.item_name,
            item_number=payment.item_number,
            payer_email=payment.payer_email,
            payer_name=payment.payer_name,
        )
        self.world.transactions[txn.id] = txn
        payment.status, payment.updated = parent_status, now
        if sub.style == "rest" and event_type:
            self.send_webhook(
                event_type,
                "refund" if kind == "refund" else "sale",
                wh.sale_resource(txn, sub, self.base_url),
                f"{status} {abs(amount)} {txn.currency}",
            )
        if sub.style != "rest" or self.world.account.rest_ipn:
            self.send_ipn(sub, f"payment {status}", ipn.money_back(self.world.account, sub, txn))
        return txn
