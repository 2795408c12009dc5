"""Pure billing core: facts about a subscription in, its state out.

Nothing here imports Flask, the database or HTTP; every function takes `now`
explicitly so tests can move time.
"""

from .rules.entitlements import Entitlement, Policy, Terms, compute, status_at
from .rules.facts import Fact, FactKind
from .rules.periods import PeriodUnit, add_period

__all__ = [
    "Fact",
    "FactKind",
    "PeriodUnit",
    "add_period",
    "Entitlement",
    "Policy",
    "Terms",
    "compute",
    "status_at",
]
