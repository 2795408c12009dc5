"""Which of our plans a PayPal message means: by any of the plan's PayPal identifiers.

A plan is named by its code (the item_number our own buttons send), its REST plan id, its
name (the item_name of a message that carries nothing more specific), and any identifiers
an admin lists: hosted buttons made at PayPal, other item numbers, item names,
recurring-profile descriptions. Matching is exact, without regard to case or spacing; a
name two plans share names neither (a message must not pick one of them silently).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, func, select

from models import Plan, PlanIdentifier, db

from ..billing.rules.interpretation import PlanRef
from ..billing.rules.statuses import PlanRefKind

#: How an admin writes each kind, one identifier per line ("button: 8ABCDEF").
LABELS = {
    PlanRefKind.ITEM_NUMBER: "item",
    PlanRefKind.BUTTON: "button",
    PlanRefKind.REST_PLAN: "rest",
    PlanRefKind.PROFILE: "profile",
    PlanRefKind.ITEM_NAME: "name",
}
KINDS = {label: kind for kind, label in LABELS.items()}


def find_plan(refs: Iterable[PlanRef]) -> Plan | None:
    """The first plan any of `refs` names (they come most specific first)."""
    for ref in refs:
        plan = db.session.scalar(
            select(Plan)
            .join(PlanIdentifier, PlanIdentifier.plan_id == Plan.id)
            .where(PlanIdentifier.kind == ref.kind, PlanIdentifier.match_key == ref.key)
        )
        if plan is None and ref.kind is PlanRefKind.ITEM_NUMBER:
            plan = db.session.scalar(select(Plan).where(func.lower(Plan.code) == ref.key))
        if plan is None and ref.kind is PlanRefKind.REST_PLAN:
            plan = db.session.scalar(select(Plan).where(func.lower(Plan.paypal_plan_id) == ref.key))
        if plan is None and ref.kind is PlanRefKind.ITEM_NAME:
            plan = _only_plan_named(ref.key)
        if plan is not None:
            return plan
    return None


def plans_named(key: str) -> list[Plan]:
    """The plans whose name, compared as keys are (case and spacing ignored), is `key`.
    Plans are few (an admin makes each), and only a message with no more specific
    identifier asks, so they are compared here rather than by an index."""
    plans = db.session.scalars(select(Plan).order_by(Plan.id)).all()
    return [p for p in plans if " ".join(p.name.split()).lower() == key]


def _only_plan_named(key: str) -> Plan | None:
    """The one plan with this name; None when none or several have it (ambiguous)."""
    found = plans_named(key)
    return found[0] if len(found) == 1 else None


def parse_lines(text: str) -> tuple[list[PlanRef], list[str]]:
    """`kind: value` lines -> identifiers, and a sentence per line that is not one."""
    refs, problems = [], []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        label, sep, value = line.partition(":")
        kind = KINDS.get(label.strip().lower())
        if not sep or kind is None or not value.strip():
            problems.append(
                f"line {number}: write 'kind: value' with kind one of {', '.join(KINDS)}"
            )
        elif len(value.strip()) > 127:
            problems.append(f"line {number}: at most 127 characters")
        else:
            refs.append(PlanRef(kind, " ".join(value.split())))
    return refs, problems


def as_lines(plan: Plan) -> str:
    rows = db.session.scalars(
        select(PlanIdentifier).where(PlanIdentifier.plan_id == plan.id).order_by(PlanIdentifier.id)
    )
    return "\n".join(f"{LABELS[r.kind]}: {r.value}" for r in rows)


def conflicts(refs: Iterable[PlanRef], plan_id: int | None) -> list[str]:
    """Identifiers already naming another plan (a message could not know which is meant)."""
    found = []
    for ref in refs:
        other = find_plan([ref])
        if other is not None and other.id != plan_id:
            found.append(f"{LABELS[ref.kind]}: {ref.value} already names plan {other.code}")
    return found


def replace_identifiers(plan: Plan, refs: Iterable[PlanRef]) -> None:
    db.session.execute(delete(PlanIdentifier).where(PlanIdentifier.plan_id == plan.id))
    unique = {(r.kind, r.key): r for r in refs}
    db.session.add_all(
        PlanIdentifier(plan_id=plan.id, kind=r.kind, value=r.value, match_key=r.key)
        for r in unique.values()
    )
