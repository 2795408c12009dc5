"""Admin forms; every manual change needs a reason for the audit log."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from ..records.audit import REASON, ReasonForm

UNITS = [
    SelectChoice("D", "day(s)"),
    SelectChoice("W", "week(s)"),
    SelectChoice("M", "month(s)"),
    SelectChoice("Y", "year(s)"),
]


class MatchForm(ReasonForm):
    """Match a refund waiting for a payment that never came to one of ours."""

    txn_id = StringField(
        "Our payment's transaction id", validators=[DataRequired(), Length(max=64)]
    )


class UntilForm(ReasonForm):
    until = DateField("Access until the end of (UTC)", validators=[DataRequired()])


class RevokeForm(ReasonForm):
    """The reason stays internal; the member reads only the optional message."""

    reason = TextAreaField(
        "Internal reason (admins and the audit log only; never shown to the member)",
        validators=REASON,
    )
    member_note = TextAreaField(
        "Message to the member (optional; shown on their account page and in the mail "
        "telling them access ended; left empty, they read a neutral sentence)",
        validators=[Optional(), Length(max=500)],
    )


class GrantForm(UntilForm):
    plan = SelectField("Plan", coerce=int, validators=[DataRequired()])


class PlanForm(FlaskForm):
    code = StringField(
        "Code",
        validators=[
            DataRequired(),
            Length(max=40),
            Regexp(r"^[a-z0-9][a-z0-9_-]*$", message="Lower-case letters, digits, - and _ only."),
        ],
    )
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    #: Choices are the roles not retired (plans.py), plus those the plan already grants.
    roles = SelectMultipleField(
        "Roles granted (what it opens)",
        coerce=int,
        validators=[DataRequired(message="A plan grants at least one role.")],
    )
    price = DecimalField("Price", places=2, validators=[InputRequired(), NumberRange(min=0)])
    currency = StringField(
        "Currency",
        default="USD",
        validators=[
            DataRequired(),
            Regexp(r"^[A-Z]{3}$", message="Three capital letters, e.g. USD."),
        ],
    )
    period_count = IntegerField(
        "Every", default=1, validators=[InputRequired(), NumberRange(min=1, max=365)]
    )
    period_unit = SelectField("Period", choices=UNITS, default="M")
    trial_count = IntegerField(
        "Free trial length", validators=[Optional(), NumberRange(min=1, max=365)]
    )
    trial_unit = SelectField("Trial unit", choices=[SelectChoice("", "—")] + UNITS, default="")
    paypal_plan_id = StringField("PayPal plan id (REST)", validators=[Optional(), Length(max=64)])
    seat_limit = IntegerField("Seat limit", validators=[Optional(), NumberRange(min=1)])
    identifiers = TextAreaField(
        "Other PayPal identifiers, one per line: item: NUMBER, button: HOSTED-BUTTON-ID, "
        "rest: P-PLAN-ID, profile: DESCRIPTION, name: ITEM NAME",
        validators=[Optional(), Length(max=5000)],
    )
    active = BooleanField("Offered to members", default=True)
    # Passes (docs/passes.md): paid once for "Every" (the term) or for life; no trial.
    kind = SelectField(
        "Sold as",
        choices=[
            SelectChoice("subscription", "a subscription (renews every period)"),
            SelectChoice("pass", "a pass (paid once: the period from the payment, or lifetime)"),
        ],
        default="subscription",
    )
    lifetime = BooleanField("Lifetime pass (never ends; a pass only)", default=False)

    # --- Terms beyond one free trial, and offers (issue #24) ---
    trial_price = DecimalField(
        "First trial's price (empty or 0: free)",
        places=2,
        validators=[Optional(), NumberRange(min=0, message="A price is 0 or more.")],
    )
    trial2_count = IntegerField(
        "Second trial length (after the first)", validators=[Optional(), NumberRange(1, 365)]
    )
    trial2_unit = SelectField(
        "Second trial unit", choices=[SelectChoice("", "—")] + UNITS, default=""
    )
    trial2_price = DecimalField(
        "Second trial's price (empty or 0: free)",
        places=2,
        validators=[Optional(), NumberRange(min=0, message="A price is 0 or more.")],
    )
    payment_count = IntegerField(
        "Number of regular payments (empty: until cancelled)",
        validators=[Optional(), NumberRange(1, 999, message="From 1 to 999 payments.")],
    )
    offer_code = StringField(
        "Offer code: hides the plan; sold only at /offer/CODE (empty: listed)",
        validators=[
            Optional(),
            Length(max=40),
            Regexp(r"^[a-z0-9][a-z0-9_-]*$", message="Lower-case letters, digits, - and _ only."),
        ],
    )

    def validate_trial_unit(self, field) -> None:
        if bool(self.trial_count.data) != bool(field.data):
            raise ValidationError("Give both a trial length and its unit, or neither.")

    def validate_trial_price(self, field) -> None:
        if field.data and not self.trial_count.data:
            raise ValidationError("A trial price needs a trial length.")

    def validate_trial2_unit(self, field) -> None:
        if bool(self.trial2_count.data) != bool(field.data):
            raise ValidationError("Give both a second trial length and its unit, or neither.")
        if self.trial2_count.data and not self.trial_count.data:
            raise ValidationError("A second trial comes after a first: describe the first.")

    def validate_trial2_price(self, field) -> None:
        if field.data and not self.trial2_count.data:
            raise ValidationError("A second trial price needs a second trial length.")

    def validate_payment_count(self, field) -> None:
        # PayPal's subscribe button (srt) takes 1 to 52; a REST plan's total_cycles 999.
        if field.data and field.data > 52 and not (self.paypal_plan_id.data or "").strip():
            raise ValidationError(
                "PayPal's subscribe button allows at most 52 payments; use a REST plan "
                "(PayPal plan id) for more."
            )

    def validate_lifetime(self, field) -> None:
        if field.data and self.kind.data != "pass":
            raise ValidationError("Only a pass can be lifetime.")

    def validate_kind(self, field) -> None:
        if field.data == "pass" and (
            self.trial_count.data
            or self.trial2_count.data
            or self.payment_count.data
            or self.paypal_plan_id.data
        ):
            raise ValidationError(
                "A pass has no trial, no number of payments and no REST billing plan."
            )


class AssignForm(ReasonForm):
    """A subscription's missing plan and/or member (either may be left as it is)."""

    plan = SelectField("Plan", coerce=int, default=0)
    email = StringField("Member e-mail", validators=[Optional(), Length(max=254)])
