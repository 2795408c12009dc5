"""SQLAlchemy 2.0 typed models, one module per aggregate; `db` and `Base` live in `base`.

`gateway` imports models; models import nothing of `gateway` but the pure status
enums of its billing core (docs/architecture.md, "Parts and their boundaries").
"""

from .audit import AuditEntry
from .base import Base, db
from .checkout import Checkout
from .dashboard import DashboardSnapshot
from .export import ExportRequest
from .flag import Flag
from .intake_refusal import IntakeRefusal
from .job import JobLease, JobRun
from .notification import Notification
from .outbox import OutboxMail
from .payment import Payment
from .plan import Plan, PlanIdentifier
from .receipt import Receipt, ReceiptCounter
from .refund import RefundOperation
from .role import AccessRule, Role, Setting, plan_roles
from .seat import SeatHold
from .subscription import Subscription, SubscriptionFact, SubscriptionTerms
from .token import MemberToken
from .user import EndedSession, LoginFailure, User

__all__ = [
    "db",
    "Base",
    "User",
    "MemberToken",
    "LoginFailure",
    "EndedSession",
    "Plan",
    "PlanIdentifier",
    "Role",
    "plan_roles",
    "AccessRule",
    "Setting",
    "SeatHold",
    "RefundOperation",
    "Subscription",
    "SubscriptionFact",
    "SubscriptionTerms",
    "Payment",
    "Receipt",
    "ReceiptCounter",
    "AuditEntry",
    "Notification",
    "OutboxMail",
    "Flag",
    "IntakeRefusal",
    "Checkout",
    "DashboardSnapshot",
    "ExportRequest",
    "JobLease",
    "JobRun",
]
