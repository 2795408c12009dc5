"""One-time purchases: a Standard Buy Now button (`web_accept` IPN) and Orders v2 (create,
buyer approval, capture, `PAYMENT.CAPTURE.*` webhooks); their refunds, reversals and
cancelled reversals, announced as PayPal does for each channel."""

from __future__ import annotations

from decimal import Decimal

from . import one_time_formats as fmt
from .formats import encode_form, new_id
from .ipn_messages import fee_for
from .money_back import MoneyBack
from .state import NotFound, Purchase, Refused, Transaction

#: What the parent capture's status becomes after money goes back.
CAPTURE_EVENT = {"refund": "PAYMENT.CAPTURE.REFUNDED", "reversal": "PAYMENT.CAPTURE.REVERSED"}


class OneTime(MoneyBack):
    """Buy Now and Orders v2, on top of refunds and reversals (`MoneyBack`)."""

    def purchase(self, purchase_id: str) -> Purchase:
        found = self.world.purchases.get(purchase_id)
        if not isinstance(found, Purchase):
            raise NotFound(f"order {purchase_id} does not exist")
        return found

    # -- Standard Buy Now ----------------------------------------------------
    def buy_now(
        self, button: dict[str, str], payer: dict[str, str], status: str = "Completed"
    ) -> Purchase:
        """The buyer paid a Buy Now button: amount × quantity, as the button says (a
        tampered button is charged as tampered; the merchant must check)."""
        now = self.clock.now()
        quantity = int(button.get("quantity") or 1)
        p = Purchase(
            id=new_id("BUYNOW-", 12),
            style="buynow",
            status="COMPLETED",
            amount=Decimal(button["amount"]) * quantity,
            currency=button.get("currency_code", "USD"),
            custom=button.get("custom", ""),
            item_name=button.get("item_name", ""),
            item_number=button.get("item_number", ""),
            quantity=quantity,
            notify_url=button.get("notify_url", ""),
            return_url=button.get("return", ""),
            cancel_url=button.get("cancel_return", ""),
            create_time=now,
            update_time=now,
            **_payer(payer),
        )
        self.world.purchases[p.id] = p
        txn = self._payment(p, status)
        self._purchase_ipn(p, f"web_accept {status}", fmt.web_accept(self.world.account, p, txn))
        return p

    def clear(self, p: Purchase) -> Transaction:
        """A Pending payment (an eCheck) clears: the same txn_id, now Completed."""
        txn = self.world.transaction(p.capture_id)
        if txn.status != "Pending":
            raise Refused(f"payment is {txn.status}, not Pending")
        txn.status, txn.updated = "Completed", self.clock.now()
        if p.style == "buynow":
            self._purchase_ipn(
                p, "web_accept Completed", fmt.web_accept(self.world.account, p, txn)
            )
        else:
            self._capture_event("PAYMENT.CAPTURE.COMPLETED", p, txn)
        return txn

    # -- Orders v2 -----------------------------------------------------------
    def create_order(
        self,
        amount: Decimal,
        currency: str,
        custom: str,
        return_url: str,
        cancel_url: str,
        **more: str,
    ) -> Purchase:
        now = self.clock.now()
        p = Purchase(
            id=new_id("", 17),
            style="order",
            status="CREATED",
            amount=amount,
            currency=currency,
            custom=custom,
            return_url=return_url,
            cancel_url=cancel_url,
            create_time=now,
            update_time=now,
            payee_email=self.world.account.business,
            item_name=more.get("description", ""),
            item_number=more.get("reference_id", ""),
        )
        self.world.purchases[p.id] = p
        return p

    def approve_order(self, p: Purchase, payer: dict[str, str]) -> None:
        if p.status != "CREATED":
            raise Refused(f"order is {p.status}, not CREATED")
        for k, v in _payer(payer).items():
            setattr(p, k, v)
        p.status, p.update_time = "APPROVED", self.clock.now()

    def capture_order(self, p: Purchase, status: str = "Completed") -> Transaction:
        if p.status != "APPROVED":
            raise Refused(
                "ORDER_ALREADY_CAPTURED" if p.status == "COMPLETED" else "ORDER_NOT_APPROVED"
            )
        p.status, p.update_time = "COMPLETED", self.clock.now()
        txn = self._payment(p, status)
        event = "PAYMENT.CAPTURE.COMPLETED" if status == "Completed" else "PAYMENT.CAPTURE.PENDING"
        self._capture_event(event, p, txn)
        if self.world.account.rest_ipn:
            self._purchase_ipn(p, "express_checkout", fmt.web_accept(self.world.account, p, txn))
        return txn

    # -- money back: refunds and reversals of one-time payments ----------------
    def _money_back(
        self,
        payment: Transaction,
        kind: str,
        status: str,
        amount: Decimal,
        parent_status: str,
        event_type: str | None,
    ) -> Transaction:
        p = self.world.purchases.get(payment.subscription_id)
        if not isinstance(p, Purchase):  # a subscription's payment
            return super()._money_back(payment, kind, status, amount, parent_status, event_type)
        now = self.clock.now()
        txn = Transaction(
            id=new_id(),
            subscription_id=p.id,
            kind=kind,
            status=status,
            amount=amount,
            currency=payment.currency,
            fee=Decimal("20.00") if kind == "reversal" else Decimal(0),
            time=now,
            parent_id=payment.id,
            custom=p.custom,
            item_name=p.item_name,
            item_number=p.item_number,
            payer_email=p.payer_email,
        )
        self.world.transactions[txn.id] = txn
        payment.status, payment.updated = parent_status, now
        if p.style == "order" and kind in CAPTURE_EVENT:
            self.send_webhook(
                CAPTURE_EVENT[kind],
                "refund",
                fmt.refund_resource(txn, p, self.base_url),
                f"A ${abs(amount)} {txn.currency} capture payment was {status.lower()}",
            )
        if p.style == "buynow" or self.world.account.rest_ipn:
            self._purchase_ipn(p, f"payment {status}", fmt.money_back(self.world.account, p, txn))
        return txn

    # -- helpers -------------------------------------------------------------
    def _payment(self, p: Purchase, status: str) -> Transaction:
        now = self.clock.now()
        txn = Transaction(
            id=new_id(),
            subscription_id=p.id,
            kind="payment",
            status=status,
            amount=p.amount,
            currency=p.currency,
            fee=fee_for(self.world.account, p.amount),
            time=now,
            custom=p.custom,
            item_name=p.item_name,
            item_number=p.item_number,
            payer_email=p.payer_email,
            payer_name=f"{p.first_name} {p.last_name}".strip(),
        )
        self.world.transactions[txn.id] = txn
        p.capture_id = txn.id
        return txn

    def _capture_event(self, event_type: str, p: Purchase, txn: Transaction) -> None:
        self.send_webhook(
            event_type,
            "capture",
            fmt.capture_resource(txn, p, self.world.account, self.base_url),
            f"Payment {txn.status.lower()} for ${txn.amount} {txn.currency}",
        )

    def _purchase_ipn(self, p: Purchase, label: str, fields: fmt.Fields) -> None:
        acct = self.world.account
        headers = {
            "Content-Type": f"application/x-www-form-urlencoded; charset={acct.charset}",
            "User-Agent": "PayPal IPN ( https://www.paypal.com/ipn )",
        }
        body = encode_form(fields, acct.charset)
        self.outbox.enqueue("ipn", label, p.notify_url or acct.notify_url, body, headers)


def _payer(payer: dict[str, str]) -> dict[str, str]:
    return {
        "payer_id": payer.get("payer_id") or new_id("", 13),
        "payer_email": payer.get("email", ""),
        "first_name": payer.get("first_name", ""),
        "last_name": payer.get("last_name", ""),
    }
