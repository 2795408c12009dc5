"""SQLAlchemy 2.0 typed models; `db` lives here so `gateway` imports models, never the reverse."""
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

from .user import User, LoginFailure  # noqa: E402
from .plan import Plan  # noqa: E402
from .subscription import Subscription, SubscriptionFact  # noqa: E402
from .payment import Payment  # noqa: E402
from .audit import AuditEntry  # noqa: E402
from .notification import Notification  # noqa: E402
from .flag import Flag  # noqa: E402
from .checkout import Checkout  # noqa: E402

__all__ = ["db", "Base", "User", "LoginFailure", "Plan", "Subscription", "SubscriptionFact",
           "Payment", "AuditEntry", "Notification", "Flag", "Checkout"]
