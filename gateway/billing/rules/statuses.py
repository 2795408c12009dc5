"""Every stored status, defined once. Models store them with CHECK constraints.

Pure (stdlib only) so that both the billing core and `models/` can use them
(docs/architecture.md, "Parts and their boundaries").
"""

from __future__ import annotations

import enum


class SubscriptionState(enum.StrEnum):
    """Renewal state: what the subscription will do next, independent of the clock."""

    PENDING = "pending"  # known, nothing paid or granted yet
    ACTIVE = "active"  # renews (or a manual grant)
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    ENDED = "ended"
    REVOKED = "revoked"
    REFUNDED = "refunded"  # every payment was refunded: nothing is paid for
    CHARGED_BACK = "charged_back"  # every payment was reversed (a chargeback)


class PaymentStatus(enum.StrEnum):
    """PayPal's latest word on one transaction, derived from its facts."""

    COMPLETED = "Completed"
    PENDING = "Pending"
    PARTIALLY_REFUNDED = "Partially_Refunded"
    REFUNDED = "Refunded"
    REVERSED = "Reversed"


class Channel(enum.StrEnum):
    """How a notification reached us; each channel supplies verify and interpret."""

    IPN = "ipn"  # Instant Payment Notification (postback-verified)
    WEBHOOK = "webhook"  # REST webhook (signature-verified)
    API = "api"  # what we learnt by asking PayPal ourselves
    CSV = "csv"  # a row of an uploaded Activity report


class NotificationStatus(enum.StrEnum):
    """pending -> (retry | deferred ->)* processed | invalid | flagged."""

    PENDING = "pending"
    RETRY = "retry"
    #: Waits, without an attempt budget, for a payment it refers to; woken when it arrives.
    DEFERRED = "deferred"
    PROCESSED = "processed"
    INVALID = "invalid"
    FLAGGED = "flagged"


#: Statuses a worker may still claim.
OPEN_NOTIFICATION = (
    NotificationStatus.PENDING,
    NotificationStatus.RETRY,
    NotificationStatus.DEFERRED,
)


class CheckoutStatus(enum.StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class CheckoutFlow(enum.StrEnum):
    """Which PayPal product the checkout used."""

    STANDARD = "standard"  # Payments Standard button + IPN
    REST = "rest"  # Subscriptions API + webhooks


class JobOutcome(enum.StrEnum):
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"


class TermsSource(enum.StrEnum):
    """Where a subscription's recorded terms came from."""

    OFFER = "offer"  # what our checkout (or the plan, without one) offered
    SIGNUP = "signup"  # what PayPal reported at signup, matching the offer
    CHANGE = "change"  # a later change reported by PayPal (subscr_modify, profile update)


class PlanKind(enum.StrEnum):
    """What a plan sells: a renewing subscription, or a pass paid once (a fixed term or
    lifetime; docs/passes.md)."""

    SUBSCRIPTION = "subscription"
    PASS = "pass"


class PlanRefKind(enum.StrEnum):
    """The kinds of PayPal identifier that can name one of our plans."""

    ITEM_NUMBER = "item_number"  # a Standard button's item_number (ours: the plan code)
    BUTTON = "button"  # a hosted button created at PayPal (btn_id / hosted_button_id)
    REST_PLAN = "rest_plan"  # a REST billing plan (P-...)
    PROFILE = "profile"  # an Express Checkout profile's description / product name
    #: A button's item_name: what names the plan when a message carries nothing more
    #: specific (ours: the plan's name; matched exactly, and never when two plans share it).
    ITEM_NAME = "item_name"


class OperationStatus(enum.StrEnum):
    """A money operation we ask PayPal to do (a refund): journalled before it is sent."""

    OPEN = "open"  # written, maybe sent; PayPal's answer not yet recorded
    DONE = "done"  # PayPal did it; its id is recorded
    FAILED = "failed"  # PayPal refused it for good (nothing was moved)


class ExportStatus(enum.StrEnum):
    """An admin's export written as a file by a job: queued -> running -> ready | failed;
    a ready file is deleted (expired) after EXPORT_KEEP_HOURS."""

    QUEUED = "queued"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"
    EXPIRED = "expired"
